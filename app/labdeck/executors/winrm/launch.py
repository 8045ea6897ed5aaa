"""The launch script that runs one job step on a Windows node (see ``commands.py`` for how
every script reaches ``powershell.exe``).

It sets UTF-8 output (unless the node has another encoding), puts
the environment in place, prints ``\\x1eLABDECK_PID <pid>`` as the first line of stdout and then
runs the step:

- a **cmd** step runs as a child ``%ComSpec% /D /V:OFF /S /C "<text>"`` started through
  ``System.Diagnostics.ProcessStartInfo`` (its ``Arguments`` string goes to CreateProcess as
  is, so PowerShell's native-argument quoting never sees it); ``/S`` makes cmd strip exactly the
  outer quotes. Only a text with LabDeck's ``!LABDECK_...!`` references (options, array items,
  the uploaded script) runs with ``/V:ON``, the delayed expansion they rely on; there each
  literal ``!`` of the text is escaped (``cmd_text``), since delayed expansion would remove a
  lone ``!``. A command over cmd.exe's 8191-character line is refused. Its output bytes are
  copied to ours as they come. The pid reported is that child's, the root of the step's
  process tree.
- a **PowerShell** step runs inside the launcher; the pid reported is the launcher's.

Scripts are uploaded to ``%USERPROFILE%\\.labdeck\\runs\\<run>\\`` first and run from there:
``.bat``/``.cmd`` as ``call "!LABDECK_SCRIPT!"``, ``.py`` as ``python "!LABDECK_SCRIPT!"``
(cmd steps), ``.ps1`` as ``& $env:LABDECK_SCRIPT`` (a PowerShell step).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...core.errors import InvalidInput
from ...core.quoting import Shell
from ..base import ScriptFile
from ..windows_cmd import quote_program
from .commands import UTF8_CODEPAGE, prelude, ps_quote, set_env

MAX_CMD_LINE = 8191        # cmd.exe's own limit on a command line (and on each line of a .bat file)
CMD_EXE = "C:\\Windows\\system32\\cmd.exe"
_LABDECK_REF = re.compile(r"!LABDECK_\w+!")
PID_MARK = b"\x1eLABDECK_PID "
SCRIPT_TYPES = (".bat", ".cmd", ".ps1", ".py")


@dataclass(frozen=True)
class Payload:
    """What a launch script runs: ``text`` for cmd or PowerShell, and the uploaded script
    (a path relative to the profile folder) that the text refers to, if any."""
    shell: Shell
    text: str
    script_path: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()  # what the interpreter needs to stream (and speak UTF-8)


def command_payload(command: str, shell: Shell) -> Payload:
    if shell not in (Shell.CMD, Shell.POWERSHELL):
        raise InvalidInput(f"a Windows node runs cmd or PowerShell commands, not {shell}")
    if shell is Shell.CMD and ("\n" in command.strip() or "\r" in command.strip()):
        raise InvalidInput("a cmd command is one line; put several lines in a .bat script step "
                           "(or set the node's shell to PowerShell)")
    return Payload(shell, command.strip() if shell is Shell.CMD else command)


def script_payload(script: ScriptFile, remote_path: str) -> Payload:
    lower = script.filename.lower()
    if lower.endswith((".bat", ".cmd")):
        return Payload(Shell.CMD, 'call "!LABDECK_SCRIPT!"', remote_path)
    if lower.endswith(".py"):
        python = quote_program(script.interpreter) if script.interpreter else "python"
        return Payload(Shell.CMD, f'{python} "!LABDECK_SCRIPT!"', remote_path,
                       (("PYTHONIOENCODING", "utf-8"), ("PYTHONUNBUFFERED", "1")))
    if lower.endswith(".ps1"):
        return Payload(Shell.POWERSHELL, "& $env:LABDECK_SCRIPT", remote_path)
    raise InvalidInput(f"'{script.filename}' cannot run on a Windows node: name the script "
                       f"{', '.join(SCRIPT_TYPES)} (the extension picks how it runs)")


def cmd_text(text: str) -> tuple[str, str]:
    """(switches, text) for ``cmd.exe <switches> "<text>"``: delayed expansion only when the text
    holds LabDeck's ``!LABDECK_...!`` references, and then every other ``!`` escaped so that it
    stays literal (``^^!`` outside double quotes, where cmd's parser removes one caret before
    delayed expansion removes the other; ``^!`` inside them)."""
    if not _LABDECK_REF.search(text):
        return "/D /V:OFF /S /C", text
    out, quoted, pos = [], False, 0
    while pos < len(text):
        ref = _LABDECK_REF.match(text, pos)
        if ref:
            out.append(ref.group(0))
            pos = ref.end()
            continue
        char = text[pos]
        if char == '"':
            quoted = not quoted
        elif char == "^" and not quoted and pos + 1 < len(text):
            escaped = text[pos + 1]
            out.append("^^^!" if escaped == "!" else "^" + escaped)
            pos += 2
            continue
        elif char == "!":
            char = "^!" if quoted else "^^!"
        out.append(char)
        pos += 1
    return "/D /V:ON /S /C", "".join(out)


def check_cmd_length(switches: str, text: str) -> None:
    length = len(f'"{CMD_EXE}" {switches} ""') + len(text)
    if length > MAX_CMD_LINE:
        raise InvalidInput(f"the command is too long for cmd.exe ({length} characters on its command line, at most "
                           f"{MAX_CMD_LINE}); put it in a .ps1 or .py script step, or set the node's shell to "
                           f"PowerShell (a .bat file has the same limit per line)")


_REPORT_PID = "[Console]::Out.Write([string][char]30 + 'LABDECK_PID ' + {pid} + \"`n\"); [Console]::Out.Flush()"

_RUN_CMD_CHILD = """\
$psi = New-Object System.Diagnostics.ProcessStartInfo
$psi.FileName = $env:ComSpec
$psi.Arguments = $labdeckSwitches + ' "' + $labdeckCmd + '"'
$psi.UseShellExecute = $false
$psi.CreateNoWindow = $true
$psi.RedirectStandardInput = $true
$psi.RedirectStandardOutput = $true
$psi.RedirectStandardError = $true
$child = [System.Diagnostics.Process]::Start($psi)
$child.StandardInput.Close()
""" + _REPORT_PID.format(pid="$child.Id") + """
$out = [Console]::OpenStandardOutput()
$err = [Console]::OpenStandardError()
$copyOut = $child.StandardOutput.BaseStream.CopyToAsync($out)
$copyErr = $child.StandardError.BaseStream.CopyToAsync($err)
$child.WaitForExit()
$copyOut.Wait(); $copyErr.Wait()
$out.Flush(); $err.Flush()
exit $child.ExitCode"""


def launch_script(payload: Payload, env: dict[str, str], utf8: bool = True,
                  profile_paths: dict[str, str] | None = None) -> str:
    """The PowerShell that runs one job step and reports its pid first (see the module doc).
    ``profile_paths``: variables set to the full path of a file under the profile folder."""
    lines = [f"# labdeck-launch {payload.shell}", *prelude(utf8)]
    extra = {k: v for k, v in payload.extra_env if utf8 or k != "PYTHONIOENCODING"}
    env = extra | env
    lines += [set_env(name, value) for name, value in env.items()]
    lines += [f"[Environment]::SetEnvironmentVariable({ps_quote(name)}, "
              f"(Join-Path $env:USERPROFILE {ps_quote(path)}))" for name, path in (profile_paths or {}).items()]
    if payload.script_path:
        lines.append("[Environment]::SetEnvironmentVariable('LABDECK_SCRIPT', "
                     f"(Join-Path $env:USERPROFILE {ps_quote(payload.script_path)}))")
    if payload.shell is Shell.CMD:
        switches, text = cmd_text(f"chcp {UTF8_CODEPAGE}>nul & {payload.text}" if utf8 else payload.text)
        check_cmd_length(switches, text)
        lines += [f"$labdeckSwitches = {ps_quote(switches)}", f"$labdeckCmd = {ps_quote(text)}", _RUN_CMD_CHILD]
    else:
        lines += [_REPORT_PID.format(pid="$PID"),
                  "[Console]::SetIn([System.IO.TextReader]::Null)",
                  "$ErrorActionPreference = 'Continue'",
                  "$global:LASTEXITCODE = 0",
                  "# labdeck-payload", payload.text, "# labdeck-payload-end",
                  "exit $LASTEXITCODE"]
    return "\n".join(lines) + "\n"


def split_pid_mark(head: bytes) -> tuple[int | None, bytes, bytes]:
    """(pid, output after the mark line, bytes still held) from the start of stdout.
    pid is None while the mark line is incomplete; 0 if the output has no mark."""
    if not PID_MARK.startswith(head[: len(PID_MARK)]):
        return 0, head, b""
    end = head.find(b"\n")
    if end < 0:
        return None, b"", head
    try:
        pid = int(head[len(PID_MARK):end].strip())
    except ValueError:
        pid = 0
    return pid, head[end + 1:], b""
