"""Bad input at the command line: each mistake is one line on stderr (``labdeck: error: ...``),
exit code 2, and nothing half-written in the catalog. The command line runs in this process
(``labdeck.cli.main``) unless a real pipe or process is the point of the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labdeck.cli import main


def run_cli(capsys, data_dir, *args) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(capsys, data_dir, *args) -> str:
    code, _, err = run_cli(capsys, data_dir, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("labdeck: error: "), (args, code, err)
    return lines[0].removeprefix("labdeck: error: ")


def job_names(capsys, data_dir) -> list[str]:
    code, out, _ = run_cli(capsys, data_dir, "job", "list", "--json")
    assert code == 0
    return [j["name"] for j in json.loads(out)]


# ---- job files and job add ------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--timeout", "-5"], "job 'gen': --timeout: must be a number >= 0, got -5"),
    (["--timeout", "nan"], "job 'gen': --timeout: must be a finite number, got nan"),
    (["--max-parallel", "-3"], "job 'gen': --max-parallel: must be a whole number >= 0, got -3"),
    (["--retries", "5000"], "job 'gen': --retries: must be a whole number <= 1000, got 5000"),
    (["--retry-delay", "inf"], "job 'gen': --retry-delay: must be a finite number, got inf"),
    (["--option", "v=" + "a" * (16 * 1024 * 1024 + 1)],
     "job 'gen': --option: is 16,777,217 bytes long; a value may be at most 16,777,216 bytes (put larger data in a "
     "file and pass its path)"),
])
def test_job_add_checks_its_flags_with_the_job_file_schema(capsys, data_dir, flags, message):
    assert one_error_line(capsys, data_dir, "job", "add", "gen", "--command", "true", "--targets", "all",
                          *flags) == message
    assert "gen" not in job_names(capsys, data_dir)


def test_a_job_file_with_a_typo_is_refused_and_nothing_is_imported(capsys, data_dir, tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text("name: gen\ntarget: this-computer\nsteps: [echo hi]\n")
    message = one_error_line(capsys, data_dir, "job", "import", str(path))
    assert message == f"{path}: job 'gen': unknown key 'target' (did you mean 'targets'?)"
    assert job_names(capsys, data_dir) == ["hello"]
    assert path.read_text() == "name: gen\ntarget: this-computer\nsteps: [echo hi]\n"  # the user's file as it was


def test_a_job_file_that_replaces_a_job_leaves_the_old_one_when_it_is_refused(capsys, data_dir, tmp_path):
    path = tmp_path / "hello.yaml"
    path.write_text("name: hello\ntargets: all\nsteps: [echo new]\npolicy: {retries: abc}\n")
    _, before, _ = run_cli(capsys, data_dir, "job", "export", "hello")
    assert "policy.retries: must be a whole number, got 'abc'" in one_error_line(
        capsys, data_dir, "job", "import", str(path), "--replace")
    _, after, _ = run_cli(capsys, data_dir, "job", "export", "hello")
    assert after == before


def test_a_job_file_that_is_not_utf8_or_a_bomb_is_one_line(capsys, data_dir, tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: x\nsteps: [\xff]\n")
    assert one_error_line(capsys, data_dir, "job", "import", str(binary)) == f"{binary} is not UTF-8 text (byte 16)"
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nsteps: [echo]\nover: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nests lists or mappings more than 64 levels deep" in one_error_line(
        capsys, data_dir, "job", "import", str(deep))
    assert job_names(capsys, data_dir) == ["hello"]


# ---- schedules -------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value, message", [
    ("--cron", "", "cron expression '' has 0 fields; it needs 5"),
    ("--every", "", "duration '' is not understood: use e.g. 30s, 5m, 1h30m, 2d"),
    ("--at", "", "time '' is not understood"),
    ("--every", "0.0001s", "an interval of 0.0001s is too short: the shortest is 1s"),
    ("--every", "99999999999d", "duration '99999999999d' is too long: at most 3650d (ten years)"),
    ("--cron", "0 0 31 2 *", "cron expression '0 0 31 2 *' never fires: no date matches its day, month and weekday"),
])
def test_a_schedule_that_cannot_work_is_refused_in_one_line(capsys, data_dir, flag, value, message):
    assert message in one_error_line(capsys, data_dir, "schedule", "add", "hello", f"{flag}={value}")
    code, out, _ = run_cli(capsys, data_dir, "schedule", "list", "--json")
    assert code == 0 and json.loads(out)["schedules"] == []


def test_the_shortest_interval_is_accepted(capsys, data_dir):
    code, out, err = run_cli(capsys, data_dir, "schedule", "add", "hello", "--every", "1s", "--disabled")
    assert code == 0 and "every 1s" in out, err


# ---- output into a pipe that closes ----------------------------------------------------------

def test_runs_json_into_a_pipe_closed_early_exits_quietly(data_dir):
    import subprocess
    import sys
    import time

    from labdeck.core.models import Trigger
    from labdeck.core.status import RunStatus
    from labdeck.engine.engine import Engine
    with Engine(data_dir) as engine:
        for i in range(600):  # far more JSON than a pipe holds, so the writer meets the closed end
            engine.catalog.record_entry("hello", None, RunStatus.MISSED, Trigger.SCHEDULE, time.time() - i,
                                        f"missed fire {i}")
    reader = subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "runs", "--json",
                               "--limit", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.read(100)  # like `| head -c 100`: read a little, then go away
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141  # as a shell reports a command ended by SIGPIPE
    assert stderr == ""


# ---- names and tags --------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["x&y", "a,b", "!gpu", "tag:gpu", "", "..", "bell\a", "x" * 65])
def test_a_tag_a_target_spec_cannot_name_is_refused(capsys, data_dir, tag):
    message = one_error_line(capsys, data_dir, "node", "add", "n1", "--transport", "local", "--no-check",
                             "--tag", "gpu", "--tag", tag)
    assert message.startswith("invalid tag '") and "a tag is 1-64 letters, digits, '-', '_' or '.'" in message
    code, out, _ = run_cli(capsys, data_dir, "node", "list", "--json")
    assert [n["name"] for n in json.loads(out)] == ["this-computer"]


def test_good_tags_are_kept(capsys, data_dir):
    code, _, err = run_cli(capsys, data_dir, "node", "add", "n1", "--transport", "local", "--no-check",
                           "--tag", "gpu-2", "--tag", "lab_a.v100")
    assert code == 0, err
    code, out, _ = run_cli(capsys, data_dir, "node", "list", "--json")
    assert [n.get("tags") for n in json.loads(out) if n["name"] == "n1"] == [["gpu-2", "lab_a.v100"]]


# ---- the data folder -------------------------------------------------------------------------

def test_a_data_dir_that_is_a_file_says_so(capsys, tmp_path):
    path = tmp_path / "catalog-here"
    path.write_text("not a folder")
    assert one_error_line(capsys, path, "job", "list") == (
        f"the data folder {path} (--data-dir) is a file, not a folder: "
        "give the path of a folder (a new one is created)")
    assert one_error_line(capsys, path / "sub", "job", "list") == (
        f"cannot create the data folder {path / 'sub'} (--data-dir): {path} is a file, not a folder")
    assert path.read_text() == "not a folder"


def _mount(*args: str) -> None:
    import subprocess
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip() or result.returncode}): needs root with CAP_SYS_ADMIN")


@pytest.fixture
def read_only_mounts(tmp_path):
    """A folder with a catalog in it seen through a read-only bind mount, and an empty tmpfs
    mounted read-only: read-only even for root, who ignores permission bits."""
    import subprocess
    source, bound, tmpfs = tmp_path / "source", tmp_path / "bound", tmp_path / "tmpfs"
    for folder in (source, bound, tmpfs):
        folder.mkdir()
    assert main(["--data-dir", str(source), "job", "list"]) == 0
    mounted = []
    try:
        _mount("--bind", str(source), str(bound))
        mounted.append(bound)
        _mount("-o", "remount,bind,ro", str(bound))
        _mount("-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(tmpfs))
        mounted.append(tmpfs)
        yield bound, tmpfs
    finally:
        for folder in reversed(mounted):
            subprocess.run(["umount", str(folder)], check=False)


def test_a_read_only_data_dir_says_so(capsys, read_only_mounts):
    bound, tmpfs = read_only_mounts
    assert one_error_line(capsys, bound, "job", "list") == (
        f"the data folder {bound} (--data-dir) is on a read-only filesystem: give a folder on a writable disk")
    assert one_error_line(capsys, tmpfs, "runs") == (
        f"the data folder {tmpfs} (--data-dir) is on a read-only filesystem: give a folder on a writable disk")
    assert one_error_line(capsys, tmpfs / "new", "runs") == (
        f"cannot create the data folder {tmpfs / 'new'} (--data-dir): {tmpfs} is on a read-only filesystem: "
        "give a folder on a writable disk")


def test_a_folder_without_write_permission_says_so():
    """Root ignores permission bits, so the check runs in a child process that gives up root
    after importing LabDeck (the worktree need not be readable by the unprivileged user)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    top = Path(tempfile.mkdtemp(prefix="labdeck-perm-", dir="/tmp"))
    child = (
        "import os, sys\n"
        "from labdeck.core.errors import InvalidInput\n"
        "from labdeck.store.paths import resolve_data_dir\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "for folder in sys.argv[1:]:\n"
        "    try:\n"
        "        resolve_data_dir(folder); print('accepted')\n"
        "    except InvalidInput as exc:\n"
        "        print(exc)\n")
    try:
        (top / "ro").mkdir()
        os.chmod(top, 0o755)
        os.chmod(top / "ro", 0o555)
        result = subprocess.run([sys.executable, "-c", child, str(top / "ro"), str(top / "ro" / "new")],
                                capture_output=True, text=True, timeout=60)
        assert result.stdout.splitlines() == [
            f"the data folder {top / 'ro'} (--data-dir) is read-only: no permission to write in it; "
            "give a folder you can write to",
            f"cannot create the data folder {top / 'ro' / 'new'} (--data-dir): no permission to write in "
            f"{top / 'ro'}; give a folder you can write to"], result.stderr
    finally:
        shutil.rmtree(top)


# ---- every flag that takes a value ----------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    # ids too large for SQLite raised OverflowError
    (["logs", "99999999999999999999"], "argument run_id: there is no run 99999999999999999999: run ids are whole "
                                       "numbers from 1 (see: labdeck logs --help)"),
    (["cancel", "99999999999999999999"], "argument run_id: there is no run 99999999999999999999"),
    (["tasks", "abc"], "argument run_id: must be a run id (a whole number), got 'abc'"),
    (["schedule", "remove", "99999999999999999999"], "argument id: there is no schedule 99999999999999999999"),
    (["queue", "move", "99999999999999999999", "--up"], "argument run_id: there is no run 99999999999999999999"),
    (["runs", "--limit", "99999999999999999999"], "argument --limit: must be from 1 to 1,000,000"),
    # accepted before, and then ran with a nonsense deadline or looped long
    (["exec", "--targets", "this-computer", "--timeout", "-1", "--", "true"],
     "argument --timeout: must be a number of seconds > 0 and at most 315,360,000, got '-1'"),
    (["exec", "--targets", "this-computer", "--timeout", "nan", "--", "true"], "argument --timeout: must be a number"),
    (["schedule", "list", "--next", "100000000"], "argument --next: must be from 0 to 1,000, got 100000000"),
    (["queue", "move", "1", "--priority", "99999999999999999999"], "argument --priority: must be from -1,000,000"),
    (["node", "capacity", "this-computer", "--cpus", "99999999999999999999"], "argument --cpus: must be from 0 to"),
    (["setting", "heartbeat_s", "nan"], "setting 'heartbeat_s' needs a positive number up to 315,360,000, not 'nan'"),
    (["node", "add", "n1", "--transport", "local", "--no-check", "--encoding", "nonsense"],
     "unknown encoding 'nonsense': give a codec name such as utf-8, cp850 or latin-1"),
    (["policy", "hello", "--notify-webhook", "ftp://x"],
     "job 'hello': --notify-webhook: must be an http:// or https:// address, got 'ftp://x'"),
    (["policy", "hello", "--notify-email", "lab-at-example"],
     "job 'hello': --notify-email: must be an email address (name@example.org), got 'lab-at-example'"),
    # accepted before, and then ran something else than was asked, or nothing
    (["job", "add", "j", "--command", "  ", "--targets", "all"], "job 'j': --command: is empty"),
    (["job", "add", "", "--command", "true", "--targets", "all"], "the job name: must not be empty"),
    (["run", "hello", "--targets", ""], "empty target spec: give node names, tag:NAME or all"),
    (["exec", "--targets", "all", "--", ""], "the command is empty: give the command to run after --"),
    (["logs", "1", "--node", ""], "--node needs a node name"),
    (["schedule", "add", "hello", "--at", "9999-12-31 23:59", "--tz", "Etc/GMT+12"],  # was an OverflowError
     "time '9999-12-31 23:59' is out of range: give a year from 1970 to 9998"),
    (["notify", "smtp", "--from", "lab"], "--from 'lab' is not an email address (name@example.org)"),
    (["notify", "smtp", "--host", ""], "--host '' is not a host name or address"),
    # argparse's own errors: one line too, not a usage block
    (["job", "add", "x", "--command", "true", "--targets", "all", "--retries", "abc"],
     "argument --retries: invalid int value: 'abc' (see: labdeck job add --help)"),
])
def test_a_flag_with_a_bad_value_is_one_line(capsys, data_dir, args, message):
    code, _, err = run_cli_exiting(capsys, data_dir, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("labdeck: error: "), (args, err)
    assert message in lines[0]
    _, out, _ = run_cli(capsys, data_dir, "job", "export", "hello")
    assert "notify_webhooks: []" in out and "notify_emails: []" in out  # the job as it was


def run_cli_exiting(capsys, data_dir, *args) -> tuple[int, str, str]:
    """As run_cli, for argparse's errors too (it exits instead of returning)."""
    try:
        return run_cli(capsys, data_dir, *args)
    except SystemExit as exc:
        out, err = capsys.readouterr()
        return exc.code, out, err
