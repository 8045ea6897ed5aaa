"""The PowerShell of detached runs on Windows nodes, checked as strings against the documented
parsing rules of PowerShell and cmd.exe (no Windows here; the integration tests run the same
helpers through the WS-Management test server's Linux emulation)."""

from __future__ import annotations

import base64
import re

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.quoting import Shell, env_name, substitute
from labdeck.executors.base import ScriptFile
from labdeck.executors.posix_detached import parse_status
from labdeck.executors.winrm.detached_scripts import (
    BOOTSTRAP,
    MAX_CMD_LINE,
    cleanup_script,
    command_step,
    launcher_script,
    read_script,
    run_dir,
    script_path,
    script_step,
    start_script,
    status_script,
)
from labdeck.executors.winrm.executor import WinrmExecutor
from labdeck.executors.winrm.session import WinrmTarget
from tests.support.powershell import HOSTILE, read_ps_single_quoted

STEP_LINE = re.compile(r"^if \(\$rc -eq 0\) \{ \$step = (\d+); \$rc = Invoke-LabdeckStep '(cmd|powershell)' ", re.M)


def launcher_steps(launcher: str) -> list[tuple[int, str, str, str]]:
    """(number, kind, text, script) of each step line, read with PowerShell's quoting rules."""
    steps = []
    for match in STEP_LINE.finditer(launcher):
        text, end = read_ps_single_quoted(launcher, match.end())
        assert launcher[end] == " "
        script, end = read_ps_single_quoted(launcher, end + 1)
        assert launcher[end:end + 2] == " }"  # nothing of the values spills past the literals
        steps.append((int(match.group(1)), match.group(2), text, script))
    return steps


def param(script: str, name: str) -> str:
    match = re.search(rf"^\${name} = ", script, re.M)
    value, end = read_ps_single_quoted(script, match.end())
    assert script[end] == "\n"
    return value


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_option_values_are_one_verbatim_literal_in_the_launcher(value):
    folder = run_dir("run-1-win1-ab12")
    command = substitute("tool.exe --name ${option.name} & echo done", {"name": value}, Shell.CMD)
    launcher = launcher_script(folder, [command_step(command, Shell.CMD, True)], {env_name("name"): value})
    match = re.search(r"^\[Environment\]::SetEnvironmentVariable\('LABDECK_OPTION_NAME', ", launcher, re.M)
    parsed, end = read_ps_single_quoted(launcher, match.end())
    assert parsed == value and launcher[end:end + 2] == ")\n"
    # the value never reaches cmd's parser: the step refers to it by name, expanded after parsing
    assert launcher_steps(launcher) == [
        (1, "cmd", '/D /V:ON /S /C "chcp 65001>nul & tool.exe --name !LABDECK_OPTION_NAME! & echo done"', "")]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_powershell_step_keeps_its_text_exactly(value):
    command = "Write-Output " + substitute("${option.v}", {"v": value}, Shell.POWERSHELL)
    launcher = launcher_script(run_dir("t"), [command_step(command, Shell.POWERSHELL, True)], {})
    ((number, kind, text, script),) = launcher_steps(launcher)
    assert (number, kind, script) == (1, "powershell", "")
    assert f"\n# labdeck-payload\n{command}\n# labdeck-payload-end\nexit $LASTEXITCODE\n" in text
    assert "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false" in text


def test_steps_run_in_order_until_one_fails_and_the_exit_file_is_renamed_into_place():
    folder = run_dir("run-7-w")
    steps = [command_step("echo one", Shell.CMD, True),
             script_step(ScriptFile("two.bat", "exit 3"), script_path(folder, 2, "two.bat"), True),
             script_step(ScriptFile("three.ps1", ""), script_path(folder, 3, "three.ps1"), True),
             script_step(ScriptFile("four.py", ""), script_path(folder, 4, "four.py"), True)]
    launcher = launcher_script(folder, steps, {"LABDECK_NODE": "w"})
    assert [(n, k, s) for n, k, _t, s in launcher_steps(launcher)] == [
        (1, "cmd", ""), (2, "cmd", ".labdeck\\runs\\run-7-w\\2-two.bat"),
        (3, "powershell", ".labdeck\\runs\\run-7-w\\3-three.ps1"), (4, "cmd", ".labdeck\\runs\\run-7-w\\4-four.py")]
    texts = [t for _n, _k, t, _s in launcher_steps(launcher)]
    assert texts[0] == '/D /V:OFF /S /C "chcp 65001>nul & echo one"'  # no reference: no delayed expansion
    assert texts[1] == '/D /V:ON /S /C "chcp 65001>nul & call "!LABDECK_SCRIPT!""'
    assert "\n& $env:LABDECK_SCRIPT\n" in texts[2]
    assert texts[3] == '/D /V:ON /S /C "chcp 65001>nul & python "!LABDECK_SCRIPT!""'
    assert "SetEnvironmentVariable('PYTHONUNBUFFERED', '1')" in launcher
    assert launcher.index("Write-LabdeckFile 'pid'") < launcher.index("$step = 1;")
    assert launcher.rstrip().endswith("Write-LabdeckFile 'exit' (\"$rc $step`n\")")
    assert "[System.IO.File]::WriteAllText($tmp, $text)\n    [System.IO.File]::Move($tmp, (Join-Path $D $name))" \
        in launcher
    assert param(launcher, "runRel") == folder


def test_cmd_does_the_output_redirection_so_bytes_are_appended_raw():
    launcher = launcher_script(run_dir("r"), [command_step("echo x", Shell.CMD, True)], {})
    outer = ("$psi.Arguments = '/D /V:ON /S /C \"!LABDECK_STEP! 1>>\"' + $runRel + '\\out\" 2>>\"' "
             "+ $runRel + '\\err\"\"'")
    assert outer in launcher
    # the only >> of the launcher is cmd's: PowerShell's would write UTF-16
    assert launcher.count(">>") == 2
    # /S strips the first and the last quote; what is left has nothing of the step but a
    # variable reference, expanded after the line was parsed (and its redirections found)
    after_s = '"!LABDECK_STEP! 1>>".labdeck\\runs\\r\\out" 2>>".labdeck\\runs\\r\\err""'[1:-1]
    assert after_s == '!LABDECK_STEP! 1>>".labdeck\\runs\\r\\out" 2>>".labdeck\\runs\\r\\err"'
    assert "$inner = '\"' + $comSpec + '\" ' + $text" in launcher
    assert "$psi.WorkingDirectory = $labdeckHome" in launcher


def test_the_launcher_starts_through_win32_process_create_outside_the_shell():
    folder = run_dir("run-3-w")
    script = start_script(folder, 20)
    assert script.startswith("# labdeck-helper detached-start\n")
    assert param(script, "runDir") == folder
    assert "Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments $arguments" in script
    assert "$arguments = @{CommandLine = $line; CurrentDirectory = $D; ProcessStartupInformation = $startup}" in script
    assert "-Property @{CreateFlags = [uint32]16777216}" in script  # CREATE_BREAKAWAY_FROM_JOB, 0x01000000
    assert script.index("$arguments.Remove('ProcessStartupInformation')") > script.index("$created.ReturnValue -ne 0")
    assert "-EncodedCommand ' + $bootstrap" in script and "-File" not in script
    bootstrap = base64.b64decode(param(script, "bootstrap")).decode("utf-16-le")
    assert bootstrap == BOOTSTRAP
    assert "(Join-Path $labdeckRunFolder 'launch.ps1')" in bootstrap and "[ScriptBlock]::Create(" in bootstrap
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", param(script, "bootstrap"))  # nothing CreateProcess could split
    assert "'PGID ' + $launcherPid" in script


def test_status_prints_what_the_posix_parser_reads_and_checks_the_pid_is_the_launcher():
    script = status_script(run_dir("run-3-w"), 4242)
    assert param(script, "labdeckPid") == "4242" and param(script, "runDir") == ".labdeck\\runs\\run-3-w"
    assert param(status_script(run_dir("x"), None), "labdeckPid") == ""
    # EXIT first, RUNNING only for a live launcher, EXIT again (it may have ended meanwhile), else GONE
    assert ("$state = Get-LabdeckExit\nif (-not $state) { if (Test-LabdeckAlive $id) { $state = 'RUNNING' } "
            "else { $state = Get-LabdeckExit } }\nif (-not $state) { $state = 'GONE' }") in script
    assert "return [Math]::Abs($start - $started) -lt 10000000" in script  # same start time: not a reused pid
    assert "return ($null -eq $boot) -or ($start -ge $boot)" in script
    assert "try { return $s.Length } finally { $s.Close() }" in script  # the size of the open file, not the listing's
    assert script.rstrip().endswith("$state\n\"PGID $id\"\n\"SIZES $(Get-Size 'out') $(Get-Size 'err')\"")
    state = parse_status("EXIT 3 2\r\nPGID 4242\r\nSIZES 10 4\r\n")
    assert (state.state, state.exit_code, state.step, state.pgid, state.out_size, state.err_size) == \
        ("exited", 3, 2, 4242, 10, 4)
    assert parse_status("RUNNING\r\nPGID 4242\r\nSIZES 0 0\r\n").state == "running"


def test_read_opens_the_file_shared_and_returns_a_byte_range_as_base64():
    script = read_script(run_dir("r"), "err", 1024, 65536)
    assert (param(script, "path"), param(script, "offset"), param(script, "limit")) == \
        (".labdeck\\runs\\r\\err", "1024", "65536")
    assert "[System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete" in script
    assert "$stream.Seek([int64]$offset, [System.IO.SeekOrigin]::Begin)" in script
    assert "[Console]::Out.Write([Convert]::ToBase64String($buffer, 0, $n))" in script
    with pytest.raises(ValueError):
        read_script(run_dir("r"), "../secret", 0, 1)


def test_cleanup_keeps_folders_whose_launcher_still_runs():
    script = cleanup_script(10080)
    assert param(script, "minutes") == "10080" and param(script, "runsRoot") == ".labdeck\\runs"
    assert "$remove = -not ($id -and (Get-Process -Id $id -ErrorAction SilentlyContinue))" in script


def test_run_folders_and_script_names_need_no_quoting():
    assert run_dir("run-1-gpu 1&x'y") == ".labdeck\\runs\\run-1-gpu_1_x_y"
    assert script_path(run_dir("t"), 2, "my job!.BAT") == ".labdeck\\runs\\t\\2-my_job_.BAT"


def test_what_cannot_run_detached_on_windows_is_refused_before_anything_is_uploaded():
    # an address where nothing listens: refusing must not need the node
    executor = WinrmExecutor(WinrmTarget(node="w", host="127.0.0.1", port=1, username="u", password="p"))
    ops = executor.detached_ops()
    assert executor.detached_ops() is ops
    with pytest.raises(InvalidInput, match=r"\.bat, \.cmd, \.ps1, \.py"):
        ops.launch(run_dir("t"), ["echo ok", ScriptFile("job.sh", "echo hi")], {})
    with pytest.raises(InvalidInput, match="one line"):
        ops.launch(run_dir("t"), ["echo a\necho b"], {})
    with pytest.raises(InvalidInput, match="script step"):
        ops.launch(run_dir("t"), ["echo " + "x" * MAX_CMD_LINE], {})
    with pytest.raises(InvalidInput, match="script step"):
        command_step("Write-Output " + "x" * (MAX_CMD_LINE // 2), Shell.POWERSHELL, True)  # UTF-16 base64 grows


def test_the_launcher_puts_itself_in_a_job_named_by_the_run_token_before_the_first_step():
    from labdeck.executors.winrm.detached_scripts import command_step, launcher_script
    from labdeck.executors.winrm.job_objects import JOB_MARK
    text = launcher_script(".labdeck\\runs\\r1", [command_step("echo hi", Shell.CMD, True)],
                           {"LABDECK_RUN_TOKEN": "cat-7"})
    job_at, token_at, first_step_at = text.index(JOB_MARK), text.index("LABDECK_RUN_TOKEN"), text.index("$rc = 0")
    assert token_at < job_at < first_step_at
    assert "CreateJobObject([IntPtr]::Zero, 'LabDeck-' + $env:LABDECK_RUN_TOKEN)" in text
    assert "AssignProcessToJobObject($labdeckJob, [LabdeckJob]::GetCurrentProcess())" in text
    assert "\n'@ }\n" in text  # a here-string ends at the start of its line, or PowerShell reads on


def test_a_detached_kill_ends_the_runs_job_before_the_tree_and_an_attached_one_compiles_nothing():
    from labdeck.executors.winrm.helpers import kill_script
    detached = kill_script(42, 5, "LabDeck-cat-7")
    assert "$jobName = 'LabDeck-cat-7'" in detached
    assert detached.index("TerminateJobObject($job, 1)") < detached.index("taskkill.exe /T /F")
    assert "Add-Type" not in kill_script(42, 5)
