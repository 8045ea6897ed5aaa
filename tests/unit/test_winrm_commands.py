"""The Windows command construction of the WinRM executor, checked as strings against the
documented parsing rules of PowerShell, cmd.exe and CommandLineToArgvW (no Windows here)."""

from __future__ import annotations

import base64
import re

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.quoting import Shell, env_name, substitute
from labdeck.executors.base import ScriptFile
from labdeck.executors.winrm.commands import (
    MAX_COMMAND_LINE,
    codepage_for,
    encode_powershell,
    powershell_command,
    ps_quote,
    safe_path_part,
    script_remote_path,
)
from labdeck.executors.winrm.helpers import kill_script, upload_script
from labdeck.executors.winrm.launch import (
    Payload,
    cmd_text,
    command_payload,
    launch_script,
    script_payload,
    split_pid_mark,
)
from labdeck.executors.winrm.preflight import judge_quotas
from tests.support.powershell import HOSTILE, read_ps_single_quoted


@pytest.mark.parametrize("value", HOSTILE)
def test_powershell_quoting_is_one_verbatim_literal_with_the_exact_value(value):
    quoted = ps_quote(value)
    parsed, end = read_ps_single_quoted(quoted)
    assert parsed == value
    assert end == len(quoted)  # nothing after the literal: the value cannot end it early


@pytest.mark.parametrize("value", HOSTILE)
def test_cmd_substitution_leaves_the_value_out_of_the_parsed_command_line(value):
    command = substitute("tool.exe --name ${option.name} & echo done", {"name": value}, Shell.CMD)
    assert command == f"tool.exe --name !{env_name('name')}! & echo done"
    script = launch_script(command_payload(command, Shell.CMD), {env_name("name"): value})
    match = re.search(r"^\[Environment\]::SetEnvironmentVariable\('LABDECK_OPTION_NAME', ", script, re.M)
    parsed, end = read_ps_single_quoted(script, match.end())
    assert parsed == value and script[end] == ")"


def test_cmd_step_reaches_cmd_exactly_after_the_s_switch_strips_the_outer_quotes():
    command = 'copy "a b.txt" c.txt && echo "done" | findstr d'
    script = launch_script(command_payload(command, Shell.CMD), {})
    start = script.index("$labdeckCmd = ") + len("$labdeckCmd = ")
    text, _ = read_ps_single_quoted(script, start)
    switches, _ = read_ps_single_quoted(script, script.index("$labdeckSwitches = ") + len("$labdeckSwitches = "))
    assert switches == "/D /V:OFF /S /C"  # no LabDeck references: no delayed expansion to eat a '!'
    assert "$psi.Arguments = $labdeckSwitches + ' \"' + $labdeckCmd + '\"'" in script
    arguments = switches + ' "' + text + '"'
    # cmd /S: strip the first quote after /C and the last quote of the line, run the rest as is.
    after_c = arguments.split("/C ", 1)[1]
    assert after_c[0] == '"' and after_c[-1] == '"'
    assert after_c[1:-1] == "chcp 65001>nul & " + command


def test_powershell_step_runs_inside_the_launcher_and_keeps_its_text():
    text = "Get-ChildItem | ForEach-Object { $_.Name }\nexit 4"
    script = launch_script(command_payload(text, Shell.POWERSHELL), {"A": "1"})
    assert script.index("$PID") < script.index(text)
    assert f"# labdeck-payload\n{text}\n# labdeck-payload-end\nexit $LASTEXITCODE" in script
    assert "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false" in script


def test_a_node_with_another_encoding_keeps_its_code_page():
    script = launch_script(command_payload("dir", Shell.CMD), {}, utf8=False)
    assert "chcp" not in script and "OutputEncoding" not in script
    assert codepage_for("utf-8") == 65001 and codepage_for("UTF8") == 65001
    assert codepage_for("cp850") == 850 and codepage_for("windows-1252") == 1252
    assert codepage_for("latin-1") == 28591 and codepage_for("shift_jis") == 932
    with pytest.raises(InvalidInput, match="unknown encoding"):
        codepage_for("no-such-codec")


def test_encoded_command_is_utf16le_base64_and_splits_into_the_intended_arguments():
    script = "Write-Output 'h\u00e9llo \u4e2d'"
    assert base64.b64decode(encode_powershell(script)).decode("utf-16-le") == script
    exe, args = powershell_command(script)
    assert exe == "powershell.exe" and args[-2] == "-EncodedCommand"
    # CommandLineToArgvW splits on spaces and treats quotes and backslashes specially; none of
    # our arguments has any, so the joined line splits back into exactly these arguments.
    assert all(not re.search(r'[\s"\\]', a) for a in args)
    assert " ".join(args).split(" ") == args


def test_a_command_too_long_for_windows_is_refused_with_a_hint():
    with pytest.raises(InvalidInput, match="script step"):
        powershell_command("x" * MAX_COMMAND_LINE)


def test_a_multi_line_cmd_command_is_refused():
    with pytest.raises(InvalidInput, match=".bat script step"):
        command_payload("echo a\necho b", Shell.CMD)
    assert command_payload("  echo a \n", Shell.CMD).text == "echo a"


def test_scripts_run_by_their_extension_from_a_path_needing_no_quotes():
    path = script_remote_path("run-12-gpu 1&x", "my job!.BAT")
    assert path == ".labdeck\\runs\\run-12-gpu_1_x\\my_job_.BAT"
    assert script_payload(ScriptFile("a.BAT", ""), path) == Payload(Shell.CMD, 'call "!LABDECK_SCRIPT!"', path)
    assert script_payload(ScriptFile("a.cmd", ""), path).shell is Shell.CMD
    assert script_payload(ScriptFile("a.py", ""), path).text == 'python "!LABDECK_SCRIPT!"'
    assert script_payload(ScriptFile("a.ps1", ""), path).text == "& $env:LABDECK_SCRIPT"
    with pytest.raises(InvalidInput, match=r"\.bat, \.cmd, \.ps1, \.py"):
        script_payload(ScriptFile("a.sh", ""), path)
    script = launch_script(script_payload(ScriptFile("a.py", ""), path), {})
    assert "SetEnvironmentVariable('PYTHONUNBUFFERED', '1')" in script
    assert f"(Join-Path $env:USERPROFILE {ps_quote(path)})" in script
    assert safe_path_part("..") == "_"


def test_pid_mark_is_split_from_the_first_output():
    assert split_pid_mark(b"\x1eLABDECK_PID 42\r\nhello\n") == (42, b"hello\n", b"")
    assert split_pid_mark(b"\x1eLABDECK_P") == (None, b"", b"\x1eLABDECK_P")
    assert split_pid_mark(b"no mark here\n") == (0, b"no mark here\n", b"")


def test_kill_uses_taskkill_on_the_tree_and_checks_every_member():
    script = kill_script(4242, 5)
    assert "$labdeckPid = '4242'" in script
    assert "taskkill.exe /T /F /PID $root" in script
    # Windows PowerShell 5.1 would throw on taskkill's "process not found" under 'Stop'
    assert script.index("$ErrorActionPreference = 'Continue'") < script.index("taskkill")
    assert "Get-CimInstance Win32_Process -Filter \"ParentProcessId=$id\"" in script
    assert "'GONE'" in script


def test_upload_path_is_a_literal_and_uses_backslashes():
    script = upload_script("data/it's here/x.bin")
    assert "$path = 'data\\it''s here\\x.bin'" in script
    assert "[Console]::In.ReadLine()" in script and "sha256=" in script


def test_quotas_below_what_long_jobs_need_come_with_the_command_to_fix_them():
    checks = {c.name: c for c in judge_quotas({"MaxShellsPerUser": "5", "MaxMemoryPerShellMB": "1024",
                                               "IdleTimeout": "7200000", "MaxProcessesPerShell": "0"}, 8)}
    assert not checks["MaxShellsPerUser"].ok
    assert "Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser 30" in checks["MaxShellsPerUser"].advice
    assert not checks["MaxMemoryPerShellMB"].ok and "1024 MB" in checks["MaxMemoryPerShellMB"].advice
    assert checks["IdleTimeout"].ok and checks["MaxProcessesPerShell"].ok
    unread = {c.name: c for c in judge_quotas({}, 8)}
    assert all(not c.ok and "administrator" in c.advice for c in unread.values())


@pytest.mark.parametrize("text, switches, sent", [
    ("echo Done!", "/D /V:OFF /S /C", "echo Done!"),
    ("echo !LABDECK_OPTION_V! Done!", "/D /V:ON /S /C", "echo !LABDECK_OPTION_V! Done^^!"),
    ('echo "!LABDECK_OPTION_V! hi!"', "/D /V:ON /S /C", 'echo "!LABDECK_OPTION_V! hi^!"'),
    ("echo !LABDECK_ITEM! ^!", "/D /V:ON /S /C", "echo !LABDECK_ITEM! ^^^!"),
])
def test_delayed_expansion_only_for_labdeck_references_and_then_literal_bangs_escaped(text, switches, sent):
    assert cmd_text(text) == (switches, sent)


def test_a_cmd_line_over_8191_characters_is_refused():
    with pytest.raises(InvalidInput, match="too long for cmd.exe .* at most 8191"):
        launch_script(command_payload("echo " + "x" * 8150, Shell.CMD), {})
    launch_script(command_payload("echo " + "x" * 8000, Shell.CMD), {})
