"""PowerShell text for detached runs on Windows nodes, as pure functions of their inputs: the
launcher that runs a node run's steps in a run folder on the node, the helper that starts it
outside the WinRM shell, and the status, read and clean-up helpers.

The run folder is ``%USERPROFILE%\\.labdeck\\runs\\<tag>\\``; it holds the same files as on a
POSIX node: ``launch.ps1``, ``pid`` (the launcher's own pid), ``boot`` (the node's last boot
time) and ``started`` (the launcher's start time), ``out`` and ``err`` (raw bytes), and ``exit``
("CODE STEP", written through a temporary file and a rename when the last step has ended).

Starting: the start helper calls ``Win32_Process.Create`` through CIM, so the launcher is a child
of the WMI provider host, not of the WinRM shell: it is outside the shell's job object and goes
on when the shell closes, when LabDeck stops and past WinRM's MaxShellRunTime (it asks for
CREATE_BREAKAWAY_FROM_JOB too, so the provider host's own quotas do not bind it, and starts
without it where the host's job refuses that). The process it
creates is ``powershell.exe -EncodedCommand <bootstrap>`` in the run folder; the bootstrap reads
``launch.ps1`` and runs it as a script block, so no execution policy can refuse it.

Each step runs as ``cmd.exe /D /V:ON /S /C "!LABDECK_STEP! 1>>"<out>" 2>>"<err>""`` in the
profile folder: cmd opens the output files and appends the step's bytes as they are (never
PowerShell's ``>>``, which re-encodes to UTF-16). ``LABDECK_STEP`` holds the step's own command
line and is expanded after that outer line was parsed (delayed expansion is never re-parsed), so
no character of the step can reach the outer cmd's parser. That inner command line is

- a cmd step: ``"%ComSpec%" /D /V:OFF /S /C "<text>"``, ``/V:ON`` with the text escaped when it
  holds LabDeck's ``!LABDECK_...!`` references (as an attached cmd step runs, see
  ``launch.cmd_text``);
- a PowerShell step: ``powershell.exe ... -EncodedCommand <UTF-16LE base64>`` (never parsed by cmd);
- scripts by extension, uploaded into the run folder: ``.bat``/``.cmd`` as ``call "!LABDECK_SCRIPT!"``,
  ``.py`` as ``python "!LABDECK_SCRIPT!"``, ``.ps1`` as ``& $env:LABDECK_SCRIPT`` in PowerShell.

The launcher's lines keep the layout the WS-Management test server reads to emulate it
(``# labdeck-detached-launcher``, environment lines, one ``Invoke-LabdeckStep`` line per step;
see tests/support/wsman_emulation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PureWindowsPath

from ...core.errors import InvalidInput
from ...core.quoting import Shell
from ..base import ScriptFile
from .commands import (
    POWERSHELL_FLAGS,
    REMOTE_ROOT,
    UTF8_CODEPAGE,
    encode_powershell,
    prelude,
    ps_quote,
    safe_path_part,
    set_env,
)
from .helpers import helper_script
from .job_objects import LAUNCHER_JOB
from .launch import cmd_text, script_payload

LAUNCHER_MARK = "# labdeck-detached-launcher"
LAUNCHER_NAME = "launch.ps1"
MAX_CMD_LINE = 8_000  # cmd.exe takes 8191 characters; the outer line and the redirections need some
STEP_POWERSHELL = "powershell.exe " + " ".join(POWERSHELL_FLAGS[:-1]) + " -EncodedCommand "


@dataclass(frozen=True)
class DetachedStep:
    """One step as the launcher runs it: ``kind`` cmd or powershell, the text for that shell,
    and the uploaded script (relative to the profile folder) the text refers to, if any."""
    kind: Shell
    text: str
    script: str = ""
    env: tuple[tuple[str, str], ...] = ()  # what the interpreter needs to stream (and speak UTF-8)


def run_dir(tag: str) -> str:
    """A run folder, relative to the profile folder (no character in it needs quoting)."""
    return f"{REMOTE_ROOT}\\{safe_path_part(tag)}"


def script_path(remote_dir: str, index: int, filename: str) -> str:
    return f"{remote_dir}\\{index}-{safe_path_part(PureWindowsPath(filename).name)}"


def powershell_step_text(payload: str, utf8: bool) -> str:
    """What ``powershell.exe -EncodedCommand`` runs for a PowerShell step."""
    lines = [*prelude(utf8), "[Console]::SetIn([System.IO.TextReader]::Null)",
             "$ErrorActionPreference = 'Continue'", "$global:LASTEXITCODE = 0",
             "# labdeck-payload", payload, "# labdeck-payload-end", "exit $LASTEXITCODE"]
    return "\n".join(lines) + "\n"


def command_step(command: str, shell: Shell, utf8: bool) -> DetachedStep:
    if shell is Shell.CMD:
        text = command.strip()
        if "\n" in text or "\r" in text:
            raise InvalidInput("a cmd command is one line; put several lines in a .bat script step "
                               "(or set the node's shell to PowerShell)")
        step = DetachedStep(Shell.CMD, cmd_arguments(f"chcp {UTF8_CODEPAGE}>nul & {text}" if utf8 else text))
    elif shell is Shell.POWERSHELL:
        step = DetachedStep(Shell.POWERSHELL, command)
    else:
        raise InvalidInput(f"a Windows node runs cmd or PowerShell commands, not {shell}")
    check_length(step, utf8)
    return step


def script_step(script: ScriptFile, path: str, utf8: bool) -> DetachedStep:
    """How an uploaded script runs (by its extension, as in an attached run)."""
    payload = script_payload(script, path)  # refuses an extension Windows cannot run
    text = payload.text
    if payload.shell is Shell.CMD:
        text = cmd_arguments(f"chcp {UTF8_CODEPAGE}>nul & {text}" if utf8 else text)
    env = tuple((k, v) for k, v in payload.extra_env if utf8 or k != "PYTHONIOENCODING")
    return DetachedStep(payload.shell, text, path, env)


def cmd_arguments(text: str) -> str:
    """cmd.exe's arguments for a cmd step's text: the switches and the text as ``cmd_text``
    makes them (delayed expansion only for LabDeck's references, a literal ``!`` kept)."""
    switches, text = cmd_text(text)
    return f'{switches} "{text}"'


def inner_command_length(step: DetachedStep, utf8: bool) -> int:
    """The length of the step's own command line (what ``LABDECK_STEP`` holds on the node)."""
    if step.kind is Shell.CMD:
        return len('"C:\\Windows\\system32\\cmd.exe" ') + len(step.text)
    return len(STEP_POWERSHELL) + len(encode_powershell(powershell_step_text(step.text, utf8)))


def check_length(step: DetachedStep, utf8: bool) -> None:
    length = inner_command_length(step, utf8)
    if length > MAX_CMD_LINE:
        raise InvalidInput(f"the command is too long for a detached run on Windows ({length} characters as cmd.exe "
                           f"gets it, at most {MAX_CMD_LINE}); put it in a script step (.bat or .ps1), "
                           "which travels as a file")


# ---- the launcher ----------------------------------------------------------------------

_LAUNCHER_HEAD = r"""
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$D = if ($labdeckRunFolder) { $labdeckRunFolder } else { $PSScriptRoot }
$labdeckHome = (Resolve-Path -LiteralPath (Join-Path $D '..\..\..')).Path
$comSpec = if ($env:ComSpec) { $env:ComSpec } else { Join-Path ([Environment]::SystemDirectory) 'cmd.exe' }
$psExe = Join-Path $PSHOME 'powershell.exe'
function Write-LabdeckFile([string]$name, [string]$text) {
    $tmp = Join-Path $D ($name + '.tmp')
    [System.IO.File]::WriteAllText($tmp, $text)
    [System.IO.File]::Move($tmp, (Join-Path $D $name))
}
try { Write-LabdeckFile 'started' ([string](Get-Process -Id $PID).StartTime.ToUniversalTime().Ticks) } catch { }
try {
    $bootTime = (Get-CimInstance Win32_OperatingSystem).LastBootUpTime
    Write-LabdeckFile 'boot' ([string]$bootTime.ToUniversalTime().Ticks)
} catch { }
Write-LabdeckFile 'pid' ([string]$PID)
foreach ($name in 'out', 'err') {
    $f = Join-Path $D $name
    if (-not (Test-Path -LiteralPath $f)) { [System.IO.File]::WriteAllBytes($f, [byte[]]@()) }
}
"""

_INVOKE_STEP = r"""
function Invoke-LabdeckStep([string]$kind, [string]$text, [string]$script) {
    try {
        if ($kind -eq 'cmd') {
            $inner = '"' + $comSpec + '" ' + $text
        } else {
            $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($text))
            $inner = '"' + $psExe + '" ' + $psFlags + ' -EncodedCommand ' + $encoded
        }
        if ($script) {
            [Environment]::SetEnvironmentVariable('LABDECK_SCRIPT', (Join-Path $labdeckHome $script))
        } else {
            [Environment]::SetEnvironmentVariable('LABDECK_SCRIPT', $null)
        }
        [Environment]::SetEnvironmentVariable('LABDECK_STEP', $inner)
        $psi = New-Object System.Diagnostics.ProcessStartInfo
        $psi.FileName = $comSpec
        $psi.Arguments = '/D /V:ON /S /C "!LABDECK_STEP! 1>>"' + $runRel + '\out" 2>>"' + $runRel + '\err""'
        $psi.WorkingDirectory = $labdeckHome
        $psi.UseShellExecute = $false
        $psi.CreateNoWindow = $true
        $psi.RedirectStandardInput = $true
        $child = [System.Diagnostics.Process]::Start($psi)
        $child.StandardInput.Close()
        $child.WaitForExit()
        return $child.ExitCode
    } catch {
        [System.IO.File]::AppendAllText((Join-Path $D 'err'), "LabDeck could not start the step: $_`r`n")
        return 255
    } finally {
        [Environment]::SetEnvironmentVariable('LABDECK_STEP', $null)
    }
}
"""


def launcher_script(remote_dir: str, steps: list[DetachedStep], env: dict[str, str], utf8: bool = True,
                    profile_paths: dict[str, str] | None = None) -> str:
    """The file the node runs: each step in order until one fails; then ``exit`` = "CODE STEP".
    ``profile_paths``: variables set to the full path of a file under the profile folder."""
    lines = [LAUNCHER_MARK, "# runs one node run's steps whatever happens to the WinRM shell and to LabDeck",
             f"$runRel = {ps_quote(remote_dir)}", _LAUNCHER_HEAD.strip(),
             f"$psFlags = {ps_quote(' '.join(POWERSHELL_FLAGS[:-1]))}", _INVOKE_STEP.strip()]
    extra = {name: value for step in steps for name, value in step.env}
    lines += [set_env(name, value) for name, value in (extra | env).items()]
    lines += [f"[Environment]::SetEnvironmentVariable({ps_quote(name)}, (Join-Path $env:USERPROFILE {ps_quote(path)}))"
              for name, path in (profile_paths or {}).items()]
    lines.append(LAUNCHER_JOB.strip())  # what a step starts stays findable (executors/winrm/job_objects.py)
    lines.append("$rc = 0; $step = 0")
    for index, step in enumerate(steps, 1):
        text = step.text if step.kind is Shell.CMD else powershell_step_text(step.text, utf8)
        lines.append(f"if ($rc -eq 0) {{ $step = {index}; $rc = Invoke-LabdeckStep '{step.kind}' "
                     f"{ps_quote(text)} {ps_quote(step.script)} }}")
    lines.append("Write-LabdeckFile 'exit' (\"$rc $step`n\")")
    return "\n".join(lines) + "\n"


# ---- helpers ---------------------------------------------------------------------------

# What Win32_Process.Create runs: the launcher's text from the run folder (its current folder),
# as a script block -- no execution policy applies to it, as none does to -EncodedCommand.
BOOTSTRAP = ("$labdeckRunFolder = (Get-Location).Path\n"
             "& ([ScriptBlock]::Create([System.IO.File]::ReadAllText((Join-Path $labdeckRunFolder 'launch.ps1'))))\n")

_RUN_FOLDER = r"$D = Join-Path $env:USERPROFILE $runDir"

START_BODY = _RUN_FOLDER + r"""
$exe = Join-Path $PSHOME 'powershell.exe'
$line = '"' + $exe + '" -NoLogo -NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand ' + $bootstrap
# out of any job the WMI provider host is in (its quotas must not bind a long job), where that is allowed
$startup = New-CimInstance -CimClass (Get-CimClass -ClassName Win32_ProcessStartup) -ClientOnly `
    -Property @{CreateFlags = [uint32]16777216}  # CREATE_BREAKAWAY_FROM_JOB
$arguments = @{CommandLine = $line; CurrentDirectory = $D; ProcessStartupInformation = $startup}
$created = $null
try { $created = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments $arguments } catch { }
if (-not $created -or $created.ReturnValue -ne 0) {  # a job that refuses breakaway: start without the flag
    $arguments.Remove('ProcessStartupInformation')
    $created = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments $arguments
}
if ($created.ReturnValue -ne 0) { "FAILED Win32_Process.Create returned $($created.ReturnValue)"; exit 1 }
$pidFile = Join-Path $D 'pid'
$until = (Get-Date).AddSeconds([double]$waitSeconds)
while (-not (Test-Path -LiteralPath $pidFile) -and (Get-Date) -lt $until) { Start-Sleep -Milliseconds 100 }
$launcherPid = $created.ProcessId  # the launcher itself, should it be slow to write its pid
if (Test-Path -LiteralPath $pidFile) { $launcherPid = [System.IO.File]::ReadAllText($pidFile).Trim() }
'PGID ' + $launcherPid
"""

STATUS_BODY = _RUN_FOLDER + r"""
function Get-LabdeckExit {
    $f = Join-Path $D 'exit'
    if (Test-Path -LiteralPath $f) {
        $t = [System.IO.File]::ReadAllText($f).Trim()
        if ($t) { return "EXIT $t" }
    }
    return $null
}
function Read-Ticks([string]$name) {
    $f = Join-Path $D $name
    if (Test-Path -LiteralPath $f) { try { return [int64][System.IO.File]::ReadAllText($f).Trim() } catch { } }
    return $null
}
function Test-LabdeckAlive([int]$id) {
    if ($id -le 0) { return $false }
    $p = Get-Process -Id $id -ErrorAction SilentlyContinue
    if (-not $p) { return $false }
    try { $start = $p.StartTime.ToUniversalTime().Ticks } catch { return $false }  # not ours to see: not ours
    $started = Read-Ticks 'started'
    if ($null -ne $started) { return [Math]::Abs($start - $started) -lt 10000000 }
    $boot = Read-Ticks 'boot'
    return ($null -eq $boot) -or ($start -ge $boot)
}
function Get-Size([string]$name) {
    # from an open handle: a directory listing can show an old size while cmd appends
    $f = Join-Path $D $name
    if (-not (Test-Path -LiteralPath $f)) { return 0 }
    $share = [System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete
    try { $s = New-Object System.IO.FileStream($f, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, $share) }
    catch { return 0 }
    try { return $s.Length } finally { $s.Close() }
}
$id = 0
$pidFile = Join-Path $D 'pid'
if ($labdeckPid) { $id = [int]$labdeckPid } elseif (Test-Path -LiteralPath $pidFile) {
    $id = [int][System.IO.File]::ReadAllText($pidFile).Trim()
}
$state = Get-LabdeckExit
if (-not $state) { if (Test-LabdeckAlive $id) { $state = 'RUNNING' } else { $state = Get-LabdeckExit } }
if (-not $state) { $state = 'GONE' }
$state
"PGID $id"
"SIZES $(Get-Size 'out') $(Get-Size 'err')"
"""

READ_BODY = r"""
$target = Join-Path $env:USERPROFILE $path
if (-not (Test-Path -LiteralPath $target)) { exit 0 }
$share = [System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete
$stream = New-Object System.IO.FileStream($target, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, $share)
try {
    $null = $stream.Seek([int64]$offset, [System.IO.SeekOrigin]::Begin)
    $buffer = New-Object byte[] ([int]$limit)
    $n = 0
    while ($n -lt $buffer.Length) {
        $got = $stream.Read($buffer, $n, $buffer.Length - $n)
        if ($got -le 0) { break }
        $n += $got
    }
    [Console]::Out.Write([Convert]::ToBase64String($buffer, 0, $n))
} finally { $stream.Close() }
"""

CLEANUP_BODY = r"""
$root = Join-Path $env:USERPROFILE $runsRoot
if (-not (Test-Path -LiteralPath $root)) { 'CLEANED'; exit 0 }
$before = (Get-Date).AddMinutes(-[double]$minutes)
foreach ($folder in @(Get-ChildItem -LiteralPath $root -Directory -ErrorAction SilentlyContinue)) {
    if ($folder.LastWriteTime -gt $before) { continue }
    $exitFile = Join-Path $folder.FullName 'exit'
    $pidFile = Join-Path $folder.FullName 'pid'
    $remove = $true
    if (Test-Path -LiteralPath $exitFile) {
        $remove = (Get-Item -LiteralPath $exitFile).LastWriteTime -lt $before
    } elseif (Test-Path -LiteralPath $pidFile) {
        $id = 0
        try { $id = [int][System.IO.File]::ReadAllText($pidFile).Trim() } catch { }
        $remove = -not ($id -and (Get-Process -Id $id -ErrorAction SilentlyContinue))
    }
    if ($remove) { Remove-Item -LiteralPath $folder.FullName -Recurse -Force -ErrorAction SilentlyContinue }
}
'CLEANED'
"""


def start_script(remote_dir: str, wait_s: float = 20.0) -> str:
    """Starts the run folder's launcher outside the WinRM shell; prints "PGID <launcher pid>"."""
    return helper_script("detached-start", {"runDir": remote_dir, "waitSeconds": f"{wait_s:g}",
                                            "bootstrap": encode_powershell(BOOTSTRAP)}, START_BODY)


def status_script(remote_dir: str, pid: int | None) -> str:
    """Prints EXIT code step | RUNNING | GONE, then "PGID <pid>" and "SIZES <out> <err>", as the
    POSIX status does (``posix_detached.parse_status`` reads both). A pid counts as the launcher
    only if its process started when the launcher did, so a pid reused after a reboot is not."""
    return helper_script("detached-status", {"runDir": remote_dir, "labdeckPid": str(int(pid)) if pid else ""},
                         STATUS_BODY)


def read_script(remote_dir: str, stream: str, offset: int, limit: int) -> str:
    """Prints up to ``limit`` bytes of ``out`` or ``err`` from ``offset``, base64-encoded; the file
    is opened sharing read and write, so the running step keeps appending meanwhile."""
    if stream not in ("out", "err"):
        raise ValueError(f"no stream {stream!r}")
    return helper_script("detached-read", {"path": f"{remote_dir}\\{stream}", "offset": str(int(offset)),
                                           "limit": str(int(limit))}, READ_BODY)


def cleanup_script(older_than_min: int) -> str:
    """Removes run folders finished more than ``older_than_min`` minutes ago (a folder whose
    launcher still runs is kept whatever its age)."""
    return helper_script("detached-cleanup", {"runsRoot": REMOTE_ROOT, "minutes": str(int(older_than_min))},
                         CLEANUP_BODY)
