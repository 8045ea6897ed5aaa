"""What the WinRM executor asks a Windows node to run, as pure functions of their inputs.

Every job step and every helper (upload, download, kill, probe, preflight) runs as one
``powershell.exe -EncodedCommand`` process (the script as UTF-16LE base64, so no cmd.exe or
CommandLineToArgvW parsing ever touches it). Values reach these scripts only as PowerShell
single-quoted literals (``core.quoting``), which PowerShell never expands.

The launch script (job steps) sets UTF-8 output (unless the node has another encoding), puts
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

Each script starts with a marker line (``# labdeck-launch cmd``, ``# labdeck-helper upload``...)
and keeps its parameters on lines of their own; the WS-Management test server relies on that
layout to emulate them (see tests/support/wsman_server.py).
"""

from __future__ import annotations

import base64
import codecs
import re
from dataclasses import dataclass

from ...core.errors import InvalidInput
from ...core.gpus import parse_gpu_list
from ...core.quoting import Shell, quote
from ..base import ScriptFile
from ..windows_cmd import quote_program
from .job_objects import KILL_JOB

POWERSHELL_EXE = "powershell.exe"
POWERSHELL_FLAGS = ("-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                    "-OutputFormat", "Text", "-EncodedCommand")
MAX_COMMAND_LINE = 32_000  # CreateProcess takes 32767 characters; WinRM runs the command without cmd.exe
MAX_CMD_LINE = 8191        # cmd.exe's own limit on a command line (and on each line of a .bat file)
CMD_EXE = "C:\\Windows\\system32\\cmd.exe"
_LABDECK_REF = re.compile(r"!LABDECK_\w+!")
PID_MARK = b"\x1eLABDECK_PID "
REMOTE_ROOT = ".labdeck\\runs"  # under %USERPROFILE%
SCRIPT_TYPES = (".bat", ".cmd", ".ps1", ".py")
UTF8_CODEPAGE = 65001
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_CODEPAGES = {"utf-8": 65001, "latin-1": 28591, "iso8859-1": 28591, "iso8859-15": 28605, "shift_jis": 932,
              "gbk": 936, "gb2312": 936, "big5": 950, "euc_kr": 949, "koi8-r": 20866}


def ps_quote(value: str) -> str:
    return quote(value, Shell.POWERSHELL)


def encode_powershell(script: str) -> str:
    """The ``-EncodedCommand`` form of a script: base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def powershell_command(script: str) -> tuple[str, list[str]]:
    """(executable, arguments) for the WinRM Command message that runs ``script``."""
    encoded = encode_powershell(script)
    args = [*POWERSHELL_FLAGS, encoded]
    length = len(POWERSHELL_EXE) + sum(len(a) + 1 for a in args)
    if length > MAX_COMMAND_LINE:
        raise InvalidInput(f"the command is too long for Windows ({length} characters encoded, at most "
                           f"{MAX_COMMAND_LINE}); put it in a script step, which travels as a file")
    return POWERSHELL_EXE, args


def codepage_for(encoding: str) -> int:
    """The Windows code page matching a Python codec name (``cp850`` -> 850, ``utf-8`` -> 65001)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InvalidInput(f"unknown encoding '{encoding}': use a Python codec name such as utf-8 or cp850") from exc
    if name.startswith("cp") and name[2:].isdigit():
        return int(name[2:])
    if name in _CODEPAGES:
        return _CODEPAGES[name]
    raise InvalidInput(f"encoding '{encoding}' has no Windows code page LabDeck knows; use utf-8 or cpNNN")


def is_utf8(encoding: str) -> bool:
    return codepage_for(encoding) == UTF8_CODEPAGE


def safe_path_part(name: str) -> str:
    """A file or folder name that needs no quoting anywhere on Windows."""
    return _UNSAFE_PATH_CHARS.sub("_", name).strip(".") or "_"


def script_remote_path(run_tag: str, filename: str) -> str:
    """Where a script step is uploaded, relative to the user's profile folder."""
    return f"{REMOTE_ROOT}\\{safe_path_part(run_tag)}\\{safe_path_part(filename)}"


def windows_path(remote: str) -> str:
    return remote.replace("/", "\\")


# ---- job steps -----------------------------------------------------------------------


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


def _set_env(name: str, value: str) -> str:
    return f"[Environment]::SetEnvironmentVariable({ps_quote(name)}, {ps_quote(value)})"


def _prelude(utf8: bool) -> list[str]:
    lines = ["$ErrorActionPreference = 'Stop'", "$ProgressPreference = 'SilentlyContinue'"]
    if utf8:
        # try: a process without a console cannot set it; its output is then UTF-8 by the code page
        lines += ["try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }",
                  "$OutputEncoding = New-Object System.Text.UTF8Encoding $false"]
    return lines


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
    lines = [f"# labdeck-launch {payload.shell}", *_prelude(utf8)]
    extra = {k: v for k, v in payload.extra_env if utf8 or k != "PYTHONIOENCODING"}
    env = extra | env
    lines += [_set_env(name, value) for name, value in env.items()]
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


# ---- helpers ---------------------------------------------------------------------------


def helper_script(name: str, params: dict[str, str], body: str) -> str:
    lines = [f"# labdeck-helper {name}", *_prelude(True)]
    lines += [f"${key} = {ps_quote(value)}" for key, value in params.items()]
    return "\n".join(lines) + "\n" + body.strip() + "\n"


_RESOLVE = "$target = if ([System.IO.Path]::IsPathRooted($path)) { $path } else { Join-Path $env:USERPROFILE $path }"

UPLOAD_BODY = _RESOLVE + """
$folder = Split-Path -Parent $target
if ($folder) { $null = New-Item -ItemType Directory -Force -Path $folder }
$stream = [System.IO.File]::Create($target)
$sha = [System.Security.Cryptography.SHA256]::Create()
try {
    while ($null -ne ($line = [Console]::In.ReadLine())) {
        if ($line.Length -eq 0) { continue }
        $bytes = [Convert]::FromBase64String($line)
        $stream.Write($bytes, 0, $bytes.Length)
        $null = $sha.TransformBlock($bytes, 0, $bytes.Length, $bytes, 0)
    }
    $null = $sha.TransformFinalBlock([byte[]]@(), 0, 0)
} finally { $stream.Close() }
'sha256=' + ([BitConverter]::ToString($sha.Hash) -replace '-', '').ToLowerInvariant()
"""

DOWNLOAD_BODY = _RESOLVE + """
$stream = [System.IO.File]::OpenRead($target)
$buffer = New-Object byte[] 49152
try {
    while (($n = $stream.Read($buffer, 0, $buffer.Length)) -gt 0) {
        [Console]::Out.WriteLine([Convert]::ToBase64String($buffer, 0, $n))
    }
} finally { $stream.Close() }
"""

_NATIVE_OK = "$ErrorActionPreference = 'Continue'  # 5.1: redirected native stderr would throw under 'Stop'\n"

KILL_BODY = _NATIVE_OK + """
$root = [int]$labdeckPid
function Get-Tree([int]$id) {
    $ids = @($id)
    foreach ($kid in @(Get-CimInstance Win32_Process -Filter "ParentProcessId=$id" -ErrorAction SilentlyContinue)) {
        $ids += Get-Tree $kid.ProcessId
    }
    $ids
}
$tree = @(Get-Tree $root)
& taskkill.exe /T /F /PID $root 2>&1 | Out-Null
$until = (Get-Date).AddSeconds([double]$waitSeconds)
do {
    $alive = @($tree | Where-Object { Get-Process -Id $_ -ErrorAction SilentlyContinue })
    if ($alive.Count -eq 0) { break }
    Start-Sleep -Milliseconds 100
} while ((Get-Date) -lt $until)
if ($alive.Count -eq 0) { 'GONE' } else { 'ALIVE ' + ($alive -join ',') }
"""

PROBE_BODY = _NATIVE_OK + """
$os = Get-CimInstance Win32_OperatingSystem
$disk = Get-CimInstance Win32_LogicalDisk -Filter "DeviceID='$($env:SystemDrive)'"
"os=$($os.Caption)"
"os_release=$($os.Version)"
"arch=$($env:PROCESSOR_ARCHITECTURE)"
"hostname=$($env:COMPUTERNAME)"
"userprofile=$($env:USERPROFILE)"
"cpus=$([Environment]::ProcessorCount)"
"powershell=$($PSVersionTable.PSVersion.Major)"
"memory_mb=$([int64]($os.TotalVisibleMemorySize / 1024))"
"memory_free_mb=$([int64]($os.FreePhysicalMemory / 1024))"
"disk_total_mb=$([int64]($disk.Size / 1MB))"
"disk_free_mb=$([int64]($disk.FreeSpace / 1MB))"
$smi = Get-Command nvidia-smi.exe -ErrorAction SilentlyContinue
if (-not $smi) {   # drivers before the DCH ones put it outside PATH
    $smi = Get-Command "$env:ProgramFiles\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe" -ErrorAction SilentlyContinue
}
if ($smi) {
    $gpus = @(& $smi.Source -L 2>$null | Where-Object { $_ -like 'GPU *' })
    "gpus=$($gpus.Count)"
    "gpu_names=$(($gpus | ForEach-Object { ($_ -replace '^GPU \\d+: ', '') -replace ' \\(UUID.*$', '' }) -join '; ')"
    $list = @(& $smi.Source --query-gpu=index,name,memory.total --format=csv,noheader,nounits 2>$null |
              ForEach-Object { $_ -replace ', *', '|' })
    "gpu_list=$($list -join ';')"
    $use = @(& $smi.Source --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits 2>$null |
             ForEach-Object { ,($_ -split ',\\s*') } | Where-Object { $_[0] -match '^\\d+$' })
    if ($use.Count) {
        "gpu_util=$(($use | ForEach-Object { $_[0] }) -join ';')"
        "gpu_mem=$(($use | ForEach-Object { [int](100 * [double]$_[1] / [math]::Max(1, [double]$_[2])) }) -join ';')"
    }
} else { 'gpus=0' }
"uptime_s=$([int64]((Get-Date) - $os.LastBootUpTime).TotalSeconds)"
# LoadPercentage is blank on some machines (VMs, some laptops): [int]$null would read as an idle 0 %,
# so fall back to the processor time counter, and say nothing rather than a made-up number.
$load = $null
$cpus = @(Get-CimInstance Win32_Processor | Where-Object { $null -ne $_.LoadPercentage })
if ($cpus.Count) { $load = ($cpus | Measure-Object -Property LoadPercentage -Average).Average }
if ($null -eq $load) {
    $perf = Get-CimInstance Win32_PerfFormattedData_PerfOS_Processor -Filter "Name='_Total'" `
        -ErrorAction SilentlyContinue
    $load = $perf.PercentProcessorTime
}
if ($null -ne $load) { "cpu_pct=$([int]$load)" }
"""

HOME_BODY = "'home=' + $env:USERPROFILE"

QUOTA_NAMES = ("MaxShellsPerUser", "MaxMemoryPerShellMB", "IdleTimeout", "MaxProcessesPerShell")

PREFLIGHT_BODY = _NATIVE_OK + """
$winrs = @(& winrm.cmd get winrm/config/winrs 2>$null)
foreach ($name in $names.Split(',')) {
    $value = $null
    try { $value = (Get-Item "WSMan:\\localhost\\Shell\\$name" -ErrorAction Stop).Value } catch { }
    if ($null -eq $value) {
        $line = $winrs | Where-Object { $_ -match "^\\s*$name\\s*=" } | Select-Object -First 1
        if ($line) { $value = ($line -split '=', 2)[1].Trim() }
    }
    "$name=$value"
}
"""


def upload_script(remote: str) -> str:
    return helper_script("upload", {"path": windows_path(remote)}, UPLOAD_BODY)


def download_script(remote: str) -> str:
    return helper_script("download", {"path": windows_path(remote)}, DOWNLOAD_BODY)


def kill_script(pid: int, wait_s: float, job: str = "") -> str:
    """taskkill /T /F on the tree of ``pid``, checked; first, with ``job``, every member of that
    named Job Object (a detached run's, see job_objects.py)."""
    params = {"labdeckPid": str(int(pid)), "waitSeconds": f"{wait_s:g}"} | ({"jobName": job} if job else {})
    return helper_script("kill", params, (KILL_JOB if job else "") + KILL_BODY)


def probe_script() -> str:
    return helper_script("probe", {}, PROBE_BODY)


def home_script() -> str:
    return helper_script("home", {}, HOME_BODY)


def preflight_script() -> str:
    return helper_script("preflight", {"names": ",".join(QUOTA_NAMES)}, PREFLIGHT_BODY)


def parse_key_values(text: str) -> dict:
    """``key=value`` lines (numbers as int); blank values are left out."""
    info: dict = {}
    for line in text.lstrip("\ufeff").splitlines():
        key, sep, value = line.partition("=")
        value = value.strip()
        if sep and value:
            info[key.strip()] = int(value) if value.isdigit() else value
    return info


def parse_probe(text: str) -> dict:
    info = parse_key_values(text)
    if "gpu_list" in info:
        info["gpu_list"] = parse_gpu_list(str(info["gpu_list"]))
    info["os_family"] = "windows"
    return info
