"""PowerShell helpers that move and inspect files on a Windows node for ``winrm_transfer``, as
pure functions of their inputs.

Every helper resolves its ``$path`` the same way: an absolute Windows path as it is, anything
else under ``%USERPROFILE%`` (``[IO.Path]::Combine`` then ``GetFullPath``, so ``/`` and ``..``
mean what they mean to Windows). Paths arrive with backslashes (``windows_path``); listings and
stats report times as Unix seconds (UTC) and sizes in bytes, one ``key=value`` per line or one
tab-separated line per entry (a Windows file name cannot hold a tab or a line break).

The two that move data talk to LabDeck while they run:

- ``xfer-put`` writes ``NAME.labdeck-part`` next to its target. It first prints ``have=N HEX``
  (the part's size and SHA-256, when a part no longer than the file is there) or ``have=0``,
  then reads ``offset=N`` (where LabDeck continues: N is 0 or that size, once LabDeck has
  checked the prefix against its own copy), then base64 lines of data, one per WS-Man Send,
  then ``end=HEX`` (the SHA-256 of the whole file). Only if the part's hash matches is it
  given the file's mtime and renamed into place (``File.Replace`` over an existing file); it
  prints ``done=HEX``, or ``mismatch=HEX`` (part deleted). If stdin ends without ``end=`` (a
  cancel) the part is kept and it prints ``kept=N``.
- ``xfer-get`` writes the file's bytes from ``$offset`` raw to stdout (WS-Man carries stdout as
  base64 already: no second encoding), hashing the whole file (the prefix before ``$offset``
  too) as it reads, and ends with ``#end SIZE HEX`` on stderr, a channel the data never uses.
  A missing file is ``#missing`` on stderr and exit code 2.

Each script starts with ``# labdeck-helper xfer-NAME`` and keeps its parameters on lines of
their own, the layout the WS-Management test server reads to emulate it
(tests/support/wsman_transfer_emulation.py).
"""

from __future__ import annotations

import re

from .helpers import helper_script

PART_SUFFIX_PS = "'.labdeck-part'"
_DRIVE_ONLY = re.compile(r"^[A-Za-z]:$")

_RESOLVE = """\
$target = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($env:USERPROFILE, $path))
$epoch = New-Object DateTime 1970, 1, 1, 0, 0, 0, ([DateTimeKind]::Utc)
function Get-UnixTime($item) { [int64][Math]::Floor(($item.LastWriteTimeUtc - $epoch).TotalSeconds) }
"""

STAT_BODY = _RESOLVE + """
if ([System.IO.Directory]::Exists($target)) {
    $item = New-Object System.IO.DirectoryInfo $target
    'kind=d'; 'size=0'; "mtime=$(Get-UnixTime $item)"
} elseif ([System.IO.File]::Exists($target)) {
    $item = New-Object System.IO.FileInfo $target
    $size = $item.Length
    if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
        $s = [System.IO.File]::Open($target, 'Open', 'Read', 'ReadWrite'); $size = $s.Length; $s.Close()
    }
    'kind=f'; "size=$size"; "mtime=$(Get-UnixTime $item)"
} else { 'kind=none' }
"""

LIST_BODY = _RESOLVE + """
if (-not [System.IO.Directory]::Exists($target)) {
    if ([System.IO.File]::Exists($target)) { 'notdir' } else { 'missing' }
    exit 0
}
'ok'
foreach ($item in (New-Object System.IO.DirectoryInfo $target).EnumerateFileSystemInfos()) {
    $kind = 'f'
    if ($item -is [System.IO.DirectoryInfo]) { $kind = 'd' }
    if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) { $kind = 'l' }
    $size = if ($kind -eq 'f') { $item.Length } else { 0 }
    "$kind`t$size`t$(Get-UnixTime $item)`t$($item.Name)"
}
"""

MKDIR_BODY = _RESOLVE + """
$null = [System.IO.Directory]::CreateDirectory($target)
"""

REMOVE_BODY = _RESOLVE + """
$profileDir = [System.IO.Path]::GetFullPath($env:USERPROFILE).TrimEnd('\\')
if ($target.TrimEnd('\\') -eq $profileDir -or $target -eq [System.IO.Path]::GetPathRoot($target)) {
    [Console]::Error.WriteLine("refusing to delete $target"); exit 3
}
# Directory.Delete does not recurse through a junction or link found inside: it removes the link
# (older PowerShell versions' recursive delete could empty what a link points to).
if ([System.IO.Directory]::Exists($target)) { [System.IO.Directory]::Delete($target, $true) }
elseif ([System.IO.File]::Exists($target)) {
    [System.IO.File]::SetAttributes($target, [System.IO.FileAttributes]::Normal)
    [System.IO.File]::Delete($target)
}
"""

HASH_BODY = _RESOLVE + """
if (-not [System.IO.File]::Exists($target)) { 'missing'; exit 0 }
$left = if ($length -eq '') { [int64]::MaxValue } else { [int64]$length }
$sha = [System.Security.Cryptography.SHA256]::Create()
$stream = [System.IO.File]::Open($target, 'Open', 'Read', 'ReadWrite')
$buffer = New-Object byte[] 1048576
try {
    while ($left -gt 0 -and ($n = $stream.Read($buffer, 0, [int][Math]::Min($buffer.Length, $left))) -gt 0) {
        $null = $sha.TransformBlock($buffer, 0, $n, $buffer, 0)
        $left -= $n
    }
    $null = $sha.TransformFinalBlock([byte[]]@(), 0, 0)
} finally { $stream.Close() }
'sha256=' + ([BitConverter]::ToString($sha.Hash) -replace '-', '').ToLowerInvariant()
"""

TOUCH_BODY = _RESOLVE + """
[System.IO.File]::SetLastWriteTimeUtc($target, $epoch.AddSeconds([double]$mtime))
"""

PUT_BODY = _RESOLVE + """
$part = $target + '.labdeck-part'
$null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($target))
function Get-Hex($hash) { ([BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant() }
function Add-Prefix($sha, [int64]$count) {
    $s = [System.IO.File]::OpenRead($part); $buf = New-Object byte[] 1048576
    try {
        while ($count -gt 0 -and ($n = $s.Read($buf, 0, [int][Math]::Min($buf.Length, $count))) -gt 0) {
            $null = $sha.TransformBlock($buf, 0, $n, $buf, 0); $count -= $n
        }
    } finally { $s.Close() }
}
$have = 0
if ([System.IO.File]::Exists($part)) { $have = (New-Object System.IO.FileInfo $part).Length }
if ($have -gt 0 -and $have -le [int64]$size) {
    $probe = [System.Security.Cryptography.SHA256]::Create()
    Add-Prefix $probe $have
    $null = $probe.TransformFinalBlock([byte[]]@(), 0, 0)
    [Console]::Out.WriteLine("have=$have $(Get-Hex $probe.Hash)")
} else { [Console]::Out.WriteLine('have=0') }
[Console]::Out.Flush()
$offset = [int64](([Console]::In.ReadLine()) -replace '^offset=', '')
$sha = [System.Security.Cryptography.SHA256]::Create()
if ($offset -gt 0) { Add-Prefix $sha $offset }
$stream = [System.IO.File]::Open($part, 'OpenOrCreate', 'Write', 'Read')
$expected = $null
try {
    $stream.SetLength($offset)
    $null = $stream.Seek($offset, 'Begin')
    while ($null -ne ($line = [Console]::In.ReadLine())) {
        if ($line.StartsWith('end=')) { $expected = $line.Substring(4); break }
        if ($line.Length -eq 0) { continue }
        $bytes = [Convert]::FromBase64String($line)
        $stream.Write($bytes, 0, $bytes.Length)
        $null = $sha.TransformBlock($bytes, 0, $bytes.Length, $bytes, 0)
    }
    $null = $sha.TransformFinalBlock([byte[]]@(), 0, 0)
    $written = $stream.Length
} finally { $stream.Close() }
if ($null -eq $expected) { "kept=$written"; exit 0 }
$got = Get-Hex $sha.Hash
if ($got -ne $expected) { [System.IO.File]::Delete($part); "mismatch=$got"; exit 0 }
[System.IO.File]::SetLastWriteTimeUtc($part, $epoch.AddSeconds([double]$mtime))
if ([System.IO.File]::Exists($target)) {
    try { [System.IO.File]::Replace($part, $target, [NullString]::Value) }
    catch [System.IO.IOException] { [System.IO.File]::Delete($target); [System.IO.File]::Move($part, $target) }
} else { [System.IO.File]::Move($part, $target) }
[System.IO.File]::SetLastWriteTimeUtc($target, $epoch.AddSeconds([double]$mtime))
"done=$got"
"""

GET_BODY = _RESOLVE + """
if (-not [System.IO.File]::Exists($target)) { [Console]::Error.WriteLine('#missing'); exit 2 }
$stream = [System.IO.File]::Open($target, 'Open', 'Read', 'ReadWrite')
$out = [Console]::OpenStandardOutput()
$sha = [System.Security.Cryptography.SHA256]::Create()
$buffer = New-Object byte[] ([int]$blockSize)
$start = [int64]$offset
$total = 0
try {
    while (($n = $stream.Read($buffer, 0, $buffer.Length)) -gt 0) {
        $null = $sha.TransformBlock($buffer, 0, $n, $buffer, 0)
        if ($total + $n -gt $start) {
            $skip = [int][Math]::Max(0, $start - $total)
            $out.Write($buffer, $skip, $n - $skip)
        }
        $total += $n
    }
    $null = $sha.TransformFinalBlock([byte[]]@(), 0, 0)
    $out.Flush()
} finally { $stream.Close() }
[Console]::Error.WriteLine("#end $total " + ([BitConverter]::ToString($sha.Hash) -replace '-', '').ToLowerInvariant())
"""


def windows_path(remote: str) -> str:
    """A transfer path as the helpers take it: ``~``/``~/`` mean the profile folder (where any
    relative path starts anyway), ``/`` becomes ``\\``, and a bare drive ``C:`` its root."""
    path = remote.strip()
    if path in ("~", "~/", "~\\", "."):
        path = ""
    elif path.startswith(("~/", "~\\")):
        path = path[2:]
    path = path.replace("/", "\\")
    return path + "\\" if _DRIVE_ONLY.match(path) else path


def stat_script(path: str) -> str:
    return helper_script("xfer-stat", {"path": windows_path(path)}, STAT_BODY)


def list_script(path: str) -> str:
    return helper_script("xfer-list", {"path": windows_path(path)}, LIST_BODY)


def mkdir_script(path: str) -> str:
    return helper_script("xfer-mkdir", {"path": windows_path(path)}, MKDIR_BODY)


def remove_script(path: str) -> str:
    return helper_script("xfer-remove", {"path": windows_path(path)}, REMOVE_BODY)


def hash_script(path: str, length: int | None = None) -> str:
    size = "" if length is None else str(int(length))
    return helper_script("xfer-hash", {"path": windows_path(path), "length": size}, HASH_BODY)


def touch_script(path: str, mtime: int) -> str:
    return helper_script("xfer-touch", {"path": windows_path(path), "mtime": str(int(mtime))}, TOUCH_BODY)


def put_script(path: str, size: int, mtime: int) -> str:
    return helper_script("xfer-put", {"path": windows_path(path), "size": str(int(size)), "mtime": str(int(mtime))},
                         PUT_BODY)


def get_script(path: str, offset: int, block_size: int) -> str:
    return helper_script("xfer-get", {"path": windows_path(path), "offset": str(int(offset)),
                                      "blockSize": str(int(block_size))}, GET_BODY)
