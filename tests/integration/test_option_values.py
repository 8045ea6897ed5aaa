"""Large option values and commands: a value too large for an environment reaches the step as a
file in the node run's folder (``LABDECK_OPTION_NAME_FILE``) and, substituted, in the command, on
this computer, a real sshd node and the WS-Management test server; a value over the hard cap is
refused with one clear line where it enters; a command line the OS cannot take is a clear node-run
error instead of an internal error with a traceback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Job, JobOption, JobPolicy, Step
from labdeck.core.quoting import Shell
from labdeck.core.status import NodeRunStatus
from labdeck.store.jobfile import job_from_yaml
from tests.conftest import add_sshd_node, add_winrm_node
from tests.support.runs import run_job

MEGABYTE = "a" * 1_000_000
# quotes, shell syntax, non-ASCII and line breaks: every byte must arrive as it was given
AWKWARD = ("it's \"$HOME\" `id` & | ; %PATH% !x! é’\n" * 25_000)[:-1]
AWKWARD_SHA = hashlib.sha256(AWKWARD.encode()).hexdigest()
READ_BOTH = ('printf %s ${option.v} | sha256sum; sha256sum < "$LABDECK_OPTION_V_FILE"; '
             'echo "in env: ${LABDECK_OPTION_V:-no}"; echo "file: $LABDECK_OPTION_V_FILE"')


def _check_value_arrived(node_run) -> str:
    assert node_run.status is NodeRunStatus.SUCCEEDED, (node_run.message, Path(node_run.log_path).read_text()[-2000:])
    text = Path(node_run.log_path).read_text()
    assert text.count(f"{AWKWARD_SHA}  -") == 2, text[-2000:]  # substituted, and in the file
    assert "in env: no" in text  # too large for the environment: only the file's path is there
    return text.split("file: ", 1)[1].split("\n", 1)[0]


def _value_job(command: str = READ_BOTH, **policy) -> Job:
    return Job(name="big", targets="all", steps=[Step(command=command)], options=[JobOption(name="v")],
               policy=JobPolicy(**policy))


def test_a_large_value_reaches_a_step_on_this_computer(engine):
    # Before: "a value may be at most 32,768 bytes" (a traceback, Argument list too long, before that).
    _run, node_runs = run_job(engine, _value_job(), {"v": AWKWARD})
    path = _check_value_arrived(node_runs["this-computer"])
    assert path.startswith("/") and path.endswith("/option-v.txt")
    assert not Path(path).parent.exists()  # the node run's folder goes when it ends


@pytest.mark.slow
def test_a_large_value_reaches_a_step_on_an_ssh_node(engine, sshd_node):
    add_sshd_node(engine, sshd_node, name="ssh1")
    job = _value_job(command=f"cd /; {READ_BOTH}")  # a full path: found after the step changed folder
    job.targets = "ssh1"
    _run, node_runs = run_job(engine, job, {"v": AWKWARD})
    path = _check_value_arrived(node_runs["ssh1"])
    assert path.startswith("/") and "/.labdeck/runs/" in path and path.endswith("/option-v.txt")
    assert not Path(path).parent.exists()


def test_a_large_value_reaches_a_powershell_step_on_a_windows_node(engine, wsman_server):
    # The test server runs step text as sh (tests/support/wsman_emulation.py): the option file is
    # uploaded through the real WinRM helpers, and the step reads it through its variable, as on Windows.
    add_winrm_node(engine, wsman_server, shell="powershell")
    job = _value_job()
    job.targets = "win1"
    _run, node_runs = run_job(engine, job, {"v": AWKWARD})
    path = _check_value_arrived(node_runs["win1"])
    assert path.endswith("option-v.txt") and ".labdeck" in path


def test_a_cmd_step_cannot_use_a_value_larger_than_cmd_holds_and_says_where_it_is(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = _value_job(command="echo ${option.v}")
    job.targets = "win1"
    _run, node_runs = run_job(engine, job, {"v": MEGABYTE})
    node_run = node_runs["win1"]
    assert node_run.status is NodeRunStatus.ERROR
    assert node_run.message == ("option 'v' is 1,000,000 bytes, more than a cmd.exe command or variable can hold, so "
                                "a cmd step cannot use ${option.v}: read the file %LABDECK_OPTION_V_FILE% names (in "
                                "a .ps1 or .py script step)")


def test_a_value_over_the_hard_cap_is_refused_when_the_run_starts(engine):
    engine.catalog.add_job(_value_job())
    with pytest.raises(InvalidInput) as caught:
        engine.start_job("big", {"v": "z" * (16 * 1024 * 1024 + 1)})
    assert str(caught.value) == ("job 'big': option 'v' is 16,777,217 bytes long; a value may be at most "
                                 "16,777,216 bytes (put larger data in a file and pass its path)")
    assert engine.catalog.list_runs() == []


def test_small_values_stay_in_the_environment(engine):
    job = _value_job(command='printf "%s|%s\\n" "$LABDECK_OPTION_V" "${LABDECK_OPTION_V_FILE:-none}"')
    _run, node_runs = run_job(engine, job, {"v": "b" * 4096})
    node_run = node_runs["this-computer"]
    assert node_run.status is NodeRunStatus.SUCCEEDED, node_run.message
    assert Path(node_run.log_path).read_text() == "b" * 4096 + "|none\n"


def test_a_large_value_reaches_a_detached_run_on_this_computer(engine):
    _run, node_runs = run_job(engine, _value_job(launch="detached"), {"v": AWKWARD})
    path = _check_value_arrived(node_runs["this-computer"])
    assert path.startswith("/") and "/.labdeck/runs/" in path and path.endswith("/option-v.txt")


@pytest.mark.slow
def test_a_large_value_reaches_a_detached_run_on_an_ssh_node(engine, sshd_node):
    add_sshd_node(engine, sshd_node, name="ssh1")
    job = _value_job(command=f"cd /; {READ_BOTH}", launch="detached")
    job.targets = "ssh1"
    _run, node_runs = run_job(engine, job, {"v": AWKWARD})
    _check_value_arrived(node_runs["ssh1"])


def test_a_large_value_reaches_a_detached_powershell_step_on_a_windows_node(engine, wsman_server):
    add_winrm_node(engine, wsman_server, shell="powershell")
    job = _value_job(launch="detached")
    job.targets = "win1"
    _run, node_runs = run_job(engine, job, {"v": AWKWARD})
    path = _check_value_arrived(node_runs["win1"])
    assert path.endswith("option-v.txt") and ".labdeck" in path


def test_a_slurm_node_refuses_a_value_its_batch_script_cannot_carry_with_what_to_do():
    from labdeck.core.models import Node
    from labdeck.engine.detached_work import detached_work
    from labdeck.executors.slurm.detached import SlurmDetachedOps
    with pytest.raises(InvalidInput) as caught:
        detached_work(SlurmDetachedOps.__new__(SlurmDetachedOps), Shell.SH, Node(name="hpc"),
                      [Step(command="echo ${option.v}")], {"v": MEGABYTE})
    assert str(caught.value).startswith("option 'v' (1,000,000 bytes) is larger than a detached run carries in its "
                                        "environment (32,768 bytes a value): run the job attached (--launch attached)")


def test_a_megabyte_default_in_a_job_file_is_accepted():
    text = f"name: big\ntargets: all\nsteps: [echo]\noptions: [{{name: v, default: {MEGABYTE}}}]\n"
    assert job_from_yaml(text, source="big.yaml").options[0].default == MEGABYTE


def test_an_environment_the_os_cannot_take_fails_its_node_run_clearly(engine, monkeypatch):
    # Long commands travel as script files now; what can still overflow is the environment, here
    # a variable of the controller's own over Linux's 128 KiB per variable.
    monkeypatch.setenv("LABDECK_TEST_HUGE", "x" * 200_000)
    engine.catalog.add_job(Job(name="env", targets="this-computer", steps=[Step(command="true")]))
    run = engine.start_job("env")
    assert engine.wait(run.id, 30)
    node_run = engine.catalog.node_runs(run.id)[0]
    assert node_run.status is not NodeRunStatus.SUCCEEDED
    assert "too long for this computer's command line" in node_run.message, node_run.message
    assert "internal error" not in node_run.message


def test_a_job_stored_with_a_bad_value_before_the_schema_is_refused_at_start(engine, data_dir):
    import json
    import sqlite3
    engine.catalog.add_job(Job(name="old", targets="this-computer", steps=[Step(command="true")]))
    with sqlite3.connect(data_dir / "catalog.sqlite") as db:  # as an import before the schema could leave it
        db.execute("UPDATE jobs SET policy = ? WHERE name = 'old'", (json.dumps({"retries": "abc"}),))
    with pytest.raises(InvalidInput) as caught:
        engine.start_job("old")
    assert str(caught.value).startswith("job 'old': policy.retries: must be a whole number, got 'abc' (correct it: "
                                        "labdeck job export old > job.yaml")
    assert engine.catalog.list_runs() == []


def test_a_large_value_comes_from_a_file_on_the_command_line(data_dir, tmp_path):
    # A megabyte does not fit in one command-line argument (Linux: 128 KiB): --param-file reads it.
    from tests.support.cli import labdeck
    added = labdeck(data_dir, "job", "add", "big", "--targets", "this-computer", "--option", "v=",
                    "--command", 'printf %s ${option.v} | sha256sum; sha256sum < "$LABDECK_OPTION_V_FILE"')
    assert added.returncode == 0, added.stderr
    value = tmp_path / "value.txt"
    value.write_text(AWKWARD, encoding="utf-8")
    ran = labdeck(data_dir, "run", "big", "--param-file", f"v={value}")
    assert ran.returncode == 0, ran.stderr
    logs = labdeck(data_dir, "logs", "1")
    assert logs.stdout.count(f"{AWKWARD_SHA}  -") == 2, logs.stdout[-2000:]


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: None, "--param-file v={p}: no such file"),
    (lambda p: p.mkdir(), "--param-file v={p}: is a folder, not a file"),
    (lambda p: p.write_bytes(b"ok\xff"), "--param-file v={p}: not UTF-8 text (byte 2); pass the file's path as the "
                                         "value instead"),
])
def test_a_param_file_that_cannot_be_a_value_is_one_clear_line(data_dir, tmp_path, make, says):
    from tests.support.cli import labdeck
    assert labdeck(data_dir, "job", "add", "big", "--targets", "this-computer", "--option", "v=",
                   "--command", "true").returncode == 0
    path = tmp_path / "value.txt"
    make(path)
    ran = labdeck(data_dir, "run", "big", "--param-file", f"v={path}")
    assert ran.returncode == 2 and ran.stderr == f"labdeck: error: {says.format(p=path)}\n", ran.stderr
    both = labdeck(data_dir, "run", "big", "-p", "v=x", "--param-file", f"v={path}")
    assert both.returncode == 2 and "option 'v' is given by both -p and --param-file: keep one" in both.stderr
