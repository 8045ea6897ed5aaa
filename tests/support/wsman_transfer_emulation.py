"""What the WS-Management test server runs for LabDeck's transfer helpers (``# labdeck-helper
xfer-NAME``, labdeck/executors/winrm_transfer_scripts.py), on Linux: each one a small Python
program doing what its PowerShell does, from the same parameters, with the same output and the
same conversation on stdin and stdout (see that module's docstring). The server has already
mapped ``path`` into its folder (tests/support/wsman_emulation.map_path); ``normpath`` stands
in for ``GetFullPath``.

Windows behaviour kept: a listing reports a link (reparse point) as ``l`` without following
it, ``stat`` follows it; deleting a folder removes links inside it, never what they point to;
the profile folder and a drive root are never deleted; mtimes are whole Unix seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

_COMMON = """
import base64, hashlib, os, shutil, sys
args = dict(a.split('=', 1) for a in sys.argv[1:])
target = os.path.normpath(args['path'])
def hash_prefix(path, count, sha):
    with open(path, 'rb') as f:
        while count > 0:
            block = f.read(min(1 << 20, count))
            if not block:
                break
            sha.update(block)
            count -= len(block)
    return sha
"""

HELPERS = {
    "xfer-stat": """
if os.path.isdir(target):
    print('kind=d'); print('size=0'); print(f'mtime={int(os.stat(target).st_mtime)}')
elif os.path.isfile(target):
    print('kind=f'); print(f'size={os.stat(target).st_size}'); print(f'mtime={int(os.lstat(target).st_mtime)}')
else:
    print('kind=none')
""",
    "xfer-list": """
if not os.path.isdir(target):
    print('notdir' if os.path.isfile(target) else 'missing')
    sys.exit(0)
print('ok')
for entry in os.scandir(target):
    info = entry.stat(follow_symlinks=False)
    kind = 'l' if entry.is_symlink() else ('d' if entry.is_dir(follow_symlinks=False) else 'f')
    print(f"{kind}\\t{info.st_size if kind == 'f' else 0}\\t{int(info.st_mtime)}\\t{entry.name}")
""",
    "xfer-mkdir": """
try:
    os.makedirs(target, exist_ok=True)
except OSError as exc:
    sys.stderr.write(f'Exception calling "CreateDirectory" with "1" argument(s): "{exc.strerror}: {target}"\\n')
    sys.exit(1)
""",
    "xfer-remove": """
profile = os.path.normpath(os.environ['USERPROFILE'])
drive_root = os.path.dirname(target) == os.path.dirname(profile) and len(os.path.basename(target)) == 1
if target == profile or drive_root:
    sys.stderr.write(f'refusing to delete {target}\\n'); sys.exit(3)
if os.path.isdir(target) and not os.path.islink(target):
    shutil.rmtree(target)
elif os.path.lexists(target):
    os.unlink(target)
""",
    "xfer-hash": """
if not os.path.isfile(target):
    print('missing'); sys.exit(0)
length = int(args['length']) if args['length'] else 1 << 62
print('sha256=' + hash_prefix(target, length, hashlib.sha256()).hexdigest())
""",
    "xfer-touch": """
mtime = int(args['mtime'])
os.utime(target, (os.stat(target).st_atime, mtime))
""",
    "xfer-put": """
part = target + '.labdeck-part'
try:
    os.makedirs(os.path.dirname(target), exist_ok=True)
except OSError as exc:
    sys.stderr.write(f'Exception calling "CreateDirectory" with "1" argument(s): "{exc.strerror}: {exc.filename}"\\n')
    sys.exit(1)
have = os.path.getsize(part) if os.path.isfile(part) else 0
if 0 < have <= int(args['size']):
    print(f"have={have} {hash_prefix(part, have, hashlib.sha256()).hexdigest()}", flush=True)
else:
    print('have=0', flush=True)
stdin = sys.stdin.buffer
offset = int(stdin.readline().strip().decode().removeprefix('offset=') or 0)
sha = hash_prefix(part, offset, hashlib.sha256()) if offset else hashlib.sha256()
expected = None
with open(part, 'r+b' if os.path.exists(part) else 'wb') as f:
    f.truncate(offset)
    f.seek(offset)
    for line in stdin:
        line = line.strip()
        if line.startswith(b'end='):
            expected = line[4:].decode()
            break
        if line:
            data = base64.b64decode(line)
            f.write(data)
            sha.update(data)
    written = f.tell()
if expected is None:
    print(f'kept={written}'); sys.exit(0)
got = sha.hexdigest()
if got != expected:
    os.unlink(part); print(f'mismatch={got}'); sys.exit(0)
mtime = int(args['mtime'])
os.utime(part, (mtime, mtime))
os.replace(part, target)
print(f'done={got}')
""",
    "xfer-get": """
if not os.path.isfile(target):
    sys.stderr.write('#missing\\n'); sys.exit(2)
offset, total, sha, out = int(args['offset']), 0, hashlib.sha256(), sys.stdout.buffer
with open(target, 'rb') as f:
    while block := f.read(int(args['blockSize'])):
        sha.update(block)
        if total + len(block) > offset:
            out.write(block[max(0, offset - total):])
        total += len(block)
out.flush()
sys.stderr.write(f'#end {total} {sha.hexdigest()}\\n')
""",
    # The pywinrm recipe bench/bench_winrm_transfer.py measures LabDeck against: one run_ps per
    # base64 chunk appended to the file, and the whole file read back as one base64 string.
    "xfer-reference-append": """
with open(target, 'ab') as f:
    f.write(base64.b64decode(args['b64']))
""",
    "xfer-reference-read": """
with open(target, 'rb') as f:
    sys.stdout.write(base64.b64encode(f.read()).decode())
""",
}


def argv(name: str, params: dict[str, str], mapped_path: Path) -> list[str]:
    """The command line emulating helper ``name`` (its ``path`` already mapped)."""
    if name not in HELPERS:
        raise ValueError(f"no emulation for helper {name}")
    params = params | {"path": str(mapped_path)}
    return [sys.executable, "-c", _COMMON + HELPERS[name], *[f"{k}={v}" for k, v in params.items()]]
