"""Runs on a Windows node through the WS-Management test server and pywinrm's real client:
output, exit codes, environment, stdin, scripts as files, live output, timeouts that kill the
tree, unreachable nodes, refused logins, shell reuse, and a run across SSH and WinRM nodes.

The server runs step text with /bin/sh (see tests/support/wsman_emulation.py), so the commands
here are sh text; the Windows command construction is unit-tested in tests/unit."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from labdeck.core.errors import AuthenticationFailed, LabDeckError
from labdeck.core.models import Job, JobOption, JobPolicy, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from tests.conftest import add_sshd_node, add_winrm_node
from tests.support.runs import processes_matching, run_job
from tests.support.waiting import wait_for
from tests.support.wsman_server import open_commands


def test_output_exit_code_and_environment_reach_the_log(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="hello", targets="win1", steps=[
        Step(command='echo "out of $LABDECK_NODE run $LABDECK_RUN_ID"; echo "on stderr" >&2; exit 0'),
        Step(command="echo second step; exit 3")])
    run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3
    assert "step 2 exited with code 3" in nr.message
    text = Path(nr.log_path).read_text()
    assert f"out of win1 run {run.id}\n" in text
    assert "on stderr\n" in text and "second step\n" in text
    assert "LABDECK_PID" not in text  # the launcher's pid line never reaches the log


def test_hostile_option_value_reaches_a_cmd_step_intact(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    hostile = "a & echo INJECTED | more %PATH% !x! $(id) `id` ' \" \u2019 ^ > out.txt"
    job = Job(name="opts", targets="win1", options=[JobOption("v", default="x")],
              steps=[Step(command="echo [${option.v}]")])
    _run, node_runs = run_job(engine, job, {"v": hostile})
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED
    assert f"[{hostile}]\n" in Path(nr.log_path).read_text()


def test_powershell_node_gets_powershell_quoted_options(engine, wsman_server):
    add_winrm_node(engine, wsman_server, shell="powershell")
    job = Job(name="ps", targets="win1", options=[JobOption("v", default="x")],
              steps=[Step(command="echo [${option.v}]")])
    _run, node_runs = run_job(engine, job, {"v": "a & b | c"})
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "[a & b | c]\n" in Path(node_runs["win1"].log_path).read_text()


def test_a_node_encoding_sets_the_shell_code_page_and_decodes_the_output(engine, wsman_server):
    from labdeck.core.models import Node, Transport, WinrmSettings

    node = Node(name="win1", transport=Transport.WINRM, host=wsman_server.host, port=wsman_server.port,
                username=wsman_server.username, encoding="cp850", winrm=WinrmSettings(auth="basic"))
    engine.add_node(node, secret=wsman_server.password)
    assert set(wsman_server.codepages) == {"850"}
    job = Job(name="oem", targets="win1", steps=[Step(command="printf 'caf\\202 \\232\\n'")])
    _run, node_runs = run_job(engine, job)
    assert "caf\u00e9 \u00dc\n" in Path(node_runs["win1"].log_path).read_text()


def test_utf8_is_the_default_code_page(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    _run, node_runs = run_job(engine, Job(name="u", targets="win1", steps=[Step(command="echo caf\u00e9 \u4e2d")]))
    assert wsman_server.codepages == ["65001"]
    assert "caf\u00e9 \u4e2d\n" in Path(node_runs["win1"].log_path).read_text()


def test_scripts_are_uploaded_as_files_and_run_from_there(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    body = "echo script says $LABDECK_OPTION_SHARD\n" + "".join(f"echo line {i}\n" for i in range(2000))
    job = Job(name="scripted", targets="win1", options=[JobOption("shard", default="7")], steps=[
        Step(kind=StepKind.SCRIPT, script=body, filename="gen.bat"),
        Step(kind=StepKind.SCRIPT, script="echo from ps1\nexit 0\n", filename="check.ps1"),
        Step(kind=StepKind.SCRIPT, script="import os\nprint('python sees', os.environ['LABDECK_NODE'])\n",
             filename="report.py")])
    run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    text = Path(nr.log_path).read_text()
    assert "script says 7\n" in text and "line 1999\n" in text
    assert "from ps1\n" in text and "python sees win1\n" in text
    from labdeck.store.identity import catalog_token  # the folder is unique per catalog...
    folder = wsman_server.root / "profile" / ".labdeck" / "runs" / f"run-{run.id}-win1-{catalog_token(engine.catalog)}"
    assert folder.parent.is_dir() and not folder.exists()  # ...and removed once the node run has ended


def test_a_cmd_script_with_an_extension_windows_cannot_run_is_an_error(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="sh", targets="win1", steps=[Step(kind=StepKind.SCRIPT, script="echo hi\n", filename="x.sh")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.ERROR
    assert ".bat, .cmd, .ps1, .py" in nr.message


def test_upload_and_download_pass_binary_data_through_stdin_and_back(engine, wsman_server, tmp_path):
    node = add_winrm_node(engine, wsman_server)
    executor = engine.pool.get(engine.catalog.get_node(node.name))
    data = bytes(range(256)) * 1200 + b"\r\n\x00tail"  # several stdin chunks
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    executor.upload(source, "inputs/in.bin")
    assert (wsman_server.root / "profile" / "inputs" / "in.bin").read_bytes() == data
    assert wsman_server.requests.count("send") >= 7
    executor.download("inputs/in.bin", tmp_path / "back" / "in.bin")
    assert (tmp_path / "back" / "in.bin").read_bytes() == data
    with pytest.raises(LabDeckError, match="downloading inputs/missing.bin failed"):
        executor.download("inputs/missing.bin", tmp_path / "back" / "missing.bin")
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == ["in.bin"]  # no half file left


def test_a_command_reading_stdin_gets_end_of_input_instead_of_hanging(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="reads", targets="win1", steps=[Step(command="cat; echo after-cat")],
              policy=JobPolicy(timeout_s=20))
    _run, node_runs = run_job(engine, job)
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "after-cat" in Path(node_runs["win1"].log_path).read_text()


def test_first_line_of_a_long_command_is_in_the_log_before_it_ends(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="long", targets="win1", steps=[Step(command="echo first-line; sleep 4; echo last-line")])
    engine.catalog.add_job(job)
    run = engine.start_job("long")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: Path(nr.log_path).exists() and "first-line" in Path(nr.log_path).read_text())
    assert engine.catalog.node_runs(run.id)[0].status is NodeRunStatus.RUNNING
    assert "last-line" not in Path(nr.log_path).read_text()
    assert engine.wait(run.id, 30)
    assert engine.catalog.node_runs(run.id)[0].status is NodeRunStatus.SUCCEEDED


def test_timeout_kills_the_tree_sends_terminate_and_reports_timed_out(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    marker = f"labdeck-winrm-{uuid.uuid4().hex[:8]}"
    command = f"trap '' TERM; sh -c 'sleep 300; : {marker}' & sh -c 'sleep 301; : {marker}'; echo never"
    job = Job(name="slow", targets="win1", steps=[Step(command=command)], policy=JobPolicy(timeout_s=1.5))
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.TIMED_OUT
    assert nr.kill_state is KillState.KILLED
    assert processes_matching(marker) == []
    assert any(code == "terminate" and not ended for _cid, code, ended in wsman_server.signals)
    assert "timed out after 1.5 s" in Path(nr.log_path).read_text()


def test_a_process_that_left_the_step_tree_ends_with_the_steps_shell_after_a_timeout(engine, wsman_server):
    # A child whose parent exits is out of reach of taskkill /T (it walks parent ids), as a
    # setsid child is out of the test server's process group. Windows keeps it in the WinRM
    # shell's job: deleting the shell after the kill ends it. Before, the shell went back to the
    # pool and the escaped child lived on.
    add_winrm_node(engine, wsman_server)
    marker = f"labdeck-winrm-escaped-{uuid.uuid4().hex[:8]}"
    command = f"setsid sh -c 'sleep 303; : {marker}' & echo started; sleep 300"
    job = Job(name="escape", targets="win1", steps=[Step(command=command)], policy=JobPolicy(timeout_s=2))
    shells_before = len(wsman_server.deleted)
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.TIMED_OUT and nr.kill_state is KillState.KILLED
    assert len(wsman_server.deleted) > shells_before  # the step's shell was deleted, not pooled
    assert wait_for(lambda: processes_matching(marker) == [], timeout=10, what="the escaped child to end")


def test_cancel_stops_the_command_on_the_node(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    marker = f"labdeck-winrm-cancel-{uuid.uuid4().hex[:8]}"
    engine.catalog.add_job(Job(name="c", targets="win1", steps=[Step(command=f"echo up; sleep 300; : {marker}")]))
    run = engine.start_job("c")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: Path(nr.log_path).exists() and "up" in Path(nr.log_path).read_text())
    engine.cancel(run.id)
    assert engine.wait(run.id, 30)
    nr = engine.catalog.node_runs(run.id)[0]
    assert nr.status is NodeRunStatus.CANCELLED and nr.kill_state is KillState.KILLED
    assert processes_matching(marker) == []


def test_wrong_password_is_a_clear_login_error(engine, wsman_server):
    with pytest.raises(AuthenticationFailed) as info:
        add_winrm_node(engine, wsman_server, password="not-the-password")
    message = str(info.value)
    assert "win1" in message and "login as 'labuser' (basic) was refused" in message and "password" in message
    assert engine.catalog.list_nodes() == [] or "win1" not in {n.name for n in engine.catalog.list_nodes()}


def test_no_saved_password_says_how_to_save_one(engine, wsman_server):
    with pytest.raises(AuthenticationFailed, match="no password is saved for 'labuser'.*--password-stdin"):
        add_winrm_node(engine, wsman_server, password="")


def test_wrong_password_at_run_time_is_an_error_not_a_failure(engine, wsman_server):
    add_winrm_node(engine, wsman_server, password="wrong", check=False)
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    assert node_runs["win1"].status is NodeRunStatus.ERROR
    assert "refused" in node_runs["win1"].message


def test_password_changed_on_the_pc_is_a_login_error_on_the_open_shell(engine, wsman_server):
    add_winrm_node(engine, wsman_server)  # its test leaves a shell open in the pool
    wsman_server.password = "changed-on-the-pc"
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    assert node_runs["win1"].status is NodeRunStatus.ERROR
    assert "login as 'labuser' (basic) was refused" in node_runs["win1"].message


def test_server_stopped_mid_command_makes_the_node_unreachable_not_failed(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    engine.catalog.add_job(Job(name="drop", targets="win1", steps=[Step(command="echo started; sleep 20; echo done")]))
    run = engine.start_job("drop")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: Path(nr.log_path).exists() and "started" in Path(nr.log_path).read_text())
    wsman_server.stop()
    assert engine.wait(run.id, 30)
    nr = engine.catalog.node_runs(run.id)[0]
    assert nr.status is NodeRunStatus.UNREACHABLE
    assert "connection failed" in nr.message and "may still be running" in nr.message


def test_stopped_server_before_the_run_is_unreachable(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    wsman_server.stop()
    engine.pool.forget("win1")
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    assert node_runs["win1"].status is NodeRunStatus.UNREACHABLE


def test_one_shell_is_reused_and_an_expired_one_is_reopened(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="quick", targets="win1", steps=[Step(command="echo one"), Step(command="echo two")])
    run_job(engine, job)
    run_job(engine, job)
    assert wsman_server.requests.count("create") == 1  # node test, two runs of two steps: one shell
    wsman_server.expire_shells()  # as the node's IdleTimeout does
    _run, node_runs = run_job(engine, job)
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert wsman_server.requests.count("create") == 2


def test_finished_commands_are_released_on_the_node_off_the_critical_path(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="quick", targets="win1", steps=[Step(command=f"echo {n}") for n in range(5)])
    _run, node_runs = run_job(engine, job)
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    # the terminate Signals come from the node's releaser once it is idle: none is left open
    assert wait_for(lambda: open_commands(wsman_server) == 0, timeout=10)
    released = [s for s in wsman_server.signals if s[1] == "terminate" and s[2]]
    assert len(released) >= 5
    assert wsman_server.requests.count("create") == 1  # and the steps shared one shell


def test_same_job_on_an_ssh_node_and_a_winrm_node_keeps_separate_statuses(engine, sshd_node, wsman_server):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    add_winrm_node(engine, wsman_server, tags=["lab"])
    job = Job(name="both", targets="tag:lab", steps=[Step(command='echo "hello from $LABDECK_NODE"')])
    run, node_runs = run_job(engine, job)
    assert run.status is RunStatus.SUCCEEDED
    for name in (sshd_node.name, "win1"):
        assert node_runs[name].status is NodeRunStatus.SUCCEEDED
        assert f"hello from {name}\n" in Path(node_runs[name].log_path).read_text()
    wsman_server.stop()
    engine.pool.forget("win1")
    run, node_runs = run_job(engine, job)
    assert node_runs[sshd_node.name].status is NodeRunStatus.SUCCEEDED
    assert node_runs["win1"].status is NodeRunStatus.UNREACHABLE
    assert run.status is RunStatus.FAILED


def test_node_test_probes_and_shows_the_quotas_to_change(engine, tmp_path):
    from tests.support.wsman_server import WsmanServer

    quotas = {"MaxMemoryPerShellMB": "150", "IdleTimeout": "600000", "MaxShellsPerUser": "30",
              "MaxProcessesPerShell": "0"}
    server = WsmanServer(tmp_path / "low-quotas", quotas=quotas).start()
    try:
        add_winrm_node(engine, server, check=False)
        result = engine.test_node("win1")
    finally:
        server.stop()
    assert result.probe["os_family"] == "windows" and result.probe["cpus"] >= 1
    checks = {c.name: c for c in result.checks}
    assert checks["reachable"].ok and checks["login"].ok
    assert checks["MaxShellsPerUser"].ok and checks["MaxProcessesPerShell"].ok
    assert not checks["MaxMemoryPerShellMB"].ok
    assert "Set-Item WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB 0" in checks["MaxMemoryPerShellMB"].advice
    assert not checks["IdleTimeout"].ok and "28800000" in checks["IdleTimeout"].advice
    assert engine.catalog.get_node("win1").os_family == "windows"


def test_a_step_ends_on_a_node_whose_powershell_waits_for_stdin_to_close(engine, wsman_server):
    wsman_server.powershell_v2 = True  # PowerShell 2.0 exits only once its stdin is closed
    add_winrm_node(engine, wsman_server)
    job = Job(name="v2", targets="win1", steps=[Step(command="echo on-v2")], policy=JobPolicy(timeout_s=15))
    _run, node_runs = run_job(engine, job)
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED, node_runs["win1"].message
    assert "on-v2" in Path(node_runs["win1"].log_path).read_text()


def test_a_step_on_a_node_with_powershell_3_or_newer_is_spared_the_stdin_send(engine, wsman_server):
    add_winrm_node(engine, wsman_server)  # its probe says PowerShell 5
    wsman_server.requests.clear()
    _run, node_runs = run_job(engine, Job(name="v5", targets="win1", steps=[Step(command="echo on-v5")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "send" not in wsman_server.requests
