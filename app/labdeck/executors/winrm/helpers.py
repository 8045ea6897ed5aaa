"""The helper scripts the WinRM executor runs beside job steps: upload and download a file
(base64 lines over stdin and stdout), kill a process tree and verify it is gone, probe the
node (OS, memory, disk, GPUs), find the profile folder, read the WinRM shell quotas
(preflight); and parsing their ``key=value`` replies. Each is one PowerShell script with a
``# labdeck-helper <name>`` marker line and its parameters as single-quoted literals on
lines of their own (``helper_script``).
"""

from __future__ import annotations

from ...core.gpus import parse_gpu_list
from .commands import prelude, ps_quote, windows_path
from .job_objects import KILL_JOB


def helper_script(name: str, params: dict[str, str], body: str) -> str:
    lines = [f"# labdeck-helper {name}", *prelude(True)]
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
