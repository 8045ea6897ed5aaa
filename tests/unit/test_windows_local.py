"""Local steps on Windows: the exact cmd.exe command line (checked here, on any OS), and what only
real Windows can show (cmd.exe's parsing, the console code page, Windows PowerShell 5.1 reading
a .ps1, Job Objects) in the tests marked ``windows_only``, which run in the Windows CI job."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.status import KillState
from labdeck.executors.base import CommandRequest, Deadline, Ending, ScriptFile
from labdeck.executors.local.executor import LocalExecutor
from labdeck.executors.windows_cmd import cmd_line, script_command

windows_only = pytest.mark.skipif(sys.platform != "win32", reason="needs real cmd.exe, PowerShell 5.1 and Job Objects")

PREFIX = 'cmd.exe /D /V:ON /S /C "chcp 65001>nul & '

HARD_CASES = [
    # a quoted program and a quoted argument: passed on untouched (list2cmdline made them \"...\")
    (r'"C:\Program Files\Tool\x.exe" "a b"', PREFIX + r'"C:\Program Files\Tool\x.exe" "a b""'),
    (r'"C:\Users\John Smith\run.cmd"', PREFIX + r'"C:\Users\John Smith\run.cmd""'),
    # cmd's operators and escapes stay cmd's: nothing is doubled or escaped on the way
    ("echo a & echo b | sort > out.txt 2>&1", PREFIX + 'echo a & echo b | sort > out.txt 2>&1"'),
    ("echo 100%% ^& ^^ ^<x^>", PREFIX + 'echo 100%% ^& ^^ ^<x^>"'),
    ("echo !USERNAME! %USERPROFILE%", PREFIX + 'echo !USERNAME! %USERPROFILE%"'),
    ('findstr /c:"say \\"hi\\"" log.txt', PREFIX + 'findstr /c:"say \\"hi\\"" log.txt"'),
    ("echo 한국어 Größe", PREFIX + 'echo 한국어 Größe"'),
    ("  dir  ", PREFIX + 'dir"'),
]


@pytest.mark.parametrize(("command", "expected"), HARD_CASES)
def test_the_command_line_is_the_one_string_cmd_expects(command, expected):
    assert cmd_line(command) == expected


def test_a_step_on_windows_gets_that_line_and_the_nodes_code_page(tmp_path):
    request = CommandRequest(command=r'"C:\Program Files\x.exe" "a b"')
    assert LocalExecutor(tmp_path).windows_command_line(request) == (
        PREFIX + r'"C:\Program Files\x.exe" "a b""', {})
    line, _ = LocalExecutor(tmp_path, encoding="cp850").windows_command_line(request)
    assert line == r'cmd.exe /D /V:ON /S /C "chcp 850>nul & "C:\Program Files\x.exe" "a b""'


def test_a_script_runs_from_a_folder_with_spaces_through_one_variable(tmp_path):
    work = tmp_path / "John Smith & Co 100%!"
    executor = LocalExecutor(work)
    line, env = executor.windows_command_line(CommandRequest(script=ScriptFile("job.cmd", "@echo hi"), run_tag="r1"))
    assert line == PREFIX + 'call "!LABDECK_SCRIPT!""'
    assert env == {"LABDECK_SCRIPT": str(work / "r1" / "job.cmd")}
    assert script_command("train.ps1") == ('powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass '
                                           '-File "!LABDECK_SCRIPT!"')
    assert script_command("t.py", r"C:\Program Files\Python312\python.exe") == (
        r'"C:\Program Files\Python312\python.exe" "!LABDECK_SCRIPT!"')
    assert script_command("t.py", "py -3") == 'py -3 "!LABDECK_SCRIPT!"'


def test_a_multi_line_command_is_refused_with_what_to_do():
    with pytest.raises(InvalidInput, match="one line; put several lines in a .bat script step"):
        cmd_line("echo a\r\necho b")


def test_a_ps1_is_written_with_a_bom_so_powershell_5_reads_it_as_utf8(tmp_path):
    body = 'Write-Output "한국어 Größe"\n'
    LocalExecutor(tmp_path).windows_command_line(CommandRequest(script=ScriptFile("s.ps1", body), run_tag="r"))
    data = (tmp_path / "r" / "s.ps1").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data[3:].decode("utf-8").replace("\r\n", "\n") == body


# ---- real Windows -----------------------------------------------------------------------


def run_local(executor: LocalExecutor, request: CommandRequest, seconds: float = 60):
    chunks = {"stdout": bytearray(), "stderr": bytearray()}
    result = executor.run(request, lambda name, data: chunks[name].extend(data), Deadline.after(seconds),
                          threading.Event())
    return result, chunks["stdout"].decode("utf-8"), chunks["stderr"].decode("utf-8", "replace")


@windows_only
def test_quoted_program_and_arguments_with_spaces_reach_the_program(tmp_path):
    folder = tmp_path / "John Smith"
    folder.mkdir()
    script = folder / "show args.cmd"
    # the arguments go through variables: a %~2 holding "&" would split the echo line itself
    script.write_text('@setlocal EnableDelayedExpansion\r\n@set "A=%~1"\r\n@set "B=%~2"\r\n@echo [!A!] [!B!]\r\n',
                      encoding="ascii")
    result, out, err = run_local(LocalExecutor(tmp_path), CommandRequest(command=f'"{script}" "a b" "c&d"'))
    assert result.exit_code == 0, err
    assert out.strip() == "[a b] [c&d]"


@windows_only
def test_a_cmd_script_under_a_folder_with_spaces_runs(tmp_path):
    executor = LocalExecutor(tmp_path / "John Smith")
    result, out, err = run_local(executor, CommandRequest(script=ScriptFile("job.cmd", "@echo ran %~nx0\r\n"),
                                                          run_tag="run-1"))
    assert result.exit_code == 0, err
    assert out.strip() == "ran job.cmd"


@windows_only
def test_korean_and_german_output_reads_back_from_cmd_and_powershell(tmp_path):
    executor = LocalExecutor(tmp_path)
    result, out, err = run_local(executor, CommandRequest(command="echo 한국어 Größe"))
    assert result.exit_code == 0, err
    assert out == "한국어 Größe\r\n"
    result, out, err = run_local(executor, CommandRequest(
        script=ScriptFile("words.ps1", 'Write-Output "한국어 Größe"\n'), run_tag="ps"))
    assert result.exit_code == 0, err
    assert "한국어 Größe" in out


@windows_only
@pytest.mark.parametrize("value", ["x & echo pwned", "$(id)", "it's", 'say "hi"', "\\", "*", "%PATH%", "-n", "!x!",
                                   "a | b > c ^ d", "한국어 Größe"])
def test_an_option_value_is_one_literal_word_in_real_cmd(tmp_path, value):
    from labdeck.core.quoting import Shell, substitute
    command = substitute("echo [${option.v}]", {"v": value}, Shell.CMD)
    result, out, err = run_local(LocalExecutor(tmp_path), CommandRequest(command=command,
                                                                         env={"LABDECK_OPTION_V": value}))
    assert result.exit_code == 0, err
    assert out == f"[{value}]\r\n"


@windows_only
def test_a_start_b_child_whose_parent_exited_is_killed_with_the_job(tmp_path):
    marker = f"labdeck-job-{uuid.uuid4().hex[:8]}"
    command = f'start "" /b "{sys.executable}" -c "import time; time.sleep(300)" {marker} & echo started'
    started = time.monotonic()
    result, out, _ = run_local(LocalExecutor(tmp_path), CommandRequest(command=command, kill_grace_s=0.5), seconds=3)
    assert "started" in out
    assert result.ending is Ending.TIMED_OUT and result.kill_state is KillState.KILLED
    assert time.monotonic() - started < 30
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert left == []


@windows_only
def test_a_job_object_lists_its_processes_and_ends_them_all():
    from labdeck.executors.local.job_object import JobObject
    marker = f"labdeck-grandchild-{uuid.uuid4().hex[:8]}"
    job = JobObject()
    try:
        proc = job.start([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, "
                          f"'-c', 'import time; time.sleep(300)', '{marker}']); time.sleep(300)"],
                         creationflags=subprocess.CREATE_NO_WINDOW)
        end = time.monotonic() + 30
        grandchildren: list[int] = []
        while not grandchildren and time.monotonic() < end:
            time.sleep(0.1)
            grandchildren = [p.pid for p in psutil.process_iter(["cmdline"])
                             if marker in " ".join(p.info["cmdline"] or [])]
        assert grandchildren and set(grandchildren) | {proc.pid} <= set(job.pids())
        job.terminate()
        assert job.wait_empty(10)
        assert proc.wait(10) is not None
        assert not [pid for pid in grandchildren if psutil.pid_exists(pid)]
    finally:
        job.close()
