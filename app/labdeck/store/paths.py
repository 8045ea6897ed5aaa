"""Where LabDeck keeps its data: ``--data-dir``, else ``LABDECK_HOME``, else the OS's user data folder.

The data folder must be on a local disk: SQLite's WAL mode needs shared memory that network file
systems (SMB shares, mapped drives) do not provide, and the catalog breaks there. A UNC path or a
Windows network drive is refused with a message saying what to do."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path, PureWindowsPath

import platformdirs

from ..core.errors import InvalidInput

DRIVE_REMOTE = 4  # GetDriveTypeW: a network drive


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data folder, created if missing and checked to be a folder LabDeck can write in:
    a file, a read-only folder or a read-only filesystem is one clear InvalidInput."""
    if explicit:
        path, given = Path(explicit), "--data-dir"
    elif os.environ.get("LABDECK_HOME"):
        path, given = Path(os.environ["LABDECK_HOME"]), "$LABDECK_HOME"
    else:
        path, given = Path(platformdirs.user_data_dir("LabDeck", appauthor=False)), "the user data folder"
    reason = network_location(str(path.expanduser()))  # before resolve(), which would go to the server
    if not reason:
        path = path.expanduser().resolve()
        reason = network_location(str(path))  # a symlink or junction to a share, or a mapped drive
    where = f"the data folder {path} ({given})"
    if reason:
        raise InvalidInput(f"{where} is {reason}; SQLite's catalog cannot work there. Choose a folder on a local "
                           "disk (--data-dir or LABDECK_HOME), e.g. the default under %LOCALAPPDATA%")
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{where} is a file, not a folder: give the path of a folder (a new one is created)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {where}: {_why_not(exc, path, created=False)}") from None
    try:  # as root, permission bits do not stop a write: only trying shows a read-only mount
        with tempfile.TemporaryFile(dir=path, prefix=".labdeck-write-check-"):
            pass
    except OSError as exc:
        raise InvalidInput(f"{where} {_why_not(exc, path, created=True)}") from None
    return path


def network_location(path: str, windows: bool | None = None, drive_type=None) -> str | None:
    """Why ``path`` is on the network (``"a network share (UNC path)"``, ``"on network drive Z:"``),
    or None. ``drive_type`` is GetDriveTypeW (asked on Windows); a UNC path is spotted anywhere."""
    windows = sys.platform == "win32" if windows is None else windows
    text = path.replace("/", "\\") if windows else path
    if text.startswith("\\\\"):
        if text.startswith(("\\\\?\\", "\\\\.\\")):
            rest = text[4:]
            if rest[:4].upper() == "UNC\\":
                return "a network share (UNC path)"
            text = rest
        else:
            return "a network share (UNC path)"
    if not windows:
        return None
    drive = PureWindowsPath(text).drive
    if len(drive) != 2 or drive[1] != ":":
        return None
    kind = (drive_type or _drive_type)(drive.upper() + "\\")
    return f"on network drive {drive.upper()}" if kind == DRIVE_REMOTE else None


def _drive_type(root: str) -> int:
    import ctypes
    return int(ctypes.windll.kernel32.GetDriveTypeW(ctypes.c_wchar_p(root)))


def _why_not(exc: OSError, path: Path, created: bool) -> str:
    """Why ``path`` cannot be written (``created``: it exists) or created, and what to do."""
    parent = next((p for p in path.parents if p.exists()), path.parent)
    if exc.errno == errno.EROFS:
        return ("is on a read-only filesystem" if created else f"{parent} is on a read-only filesystem") + \
            ": give a folder on a writable disk"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ("is read-only: no permission to write in it" if created else
                f"no permission to write in {parent}") + "; give a folder you can write to"
    if exc.errno == errno.ENOTDIR:
        return f"{next((p for p in path.parents if p.exists() and not p.is_dir()), parent)} is a file, not a folder"
    if exc.errno == errno.ENOSPC:
        return ("is" if created else f"{parent} is") + " on a full disk: free some space or give another folder"
    return f"{'is not writable' if created else 'failed'}: {exc.strerror or exc}"


def catalog_path(data_dir: Path) -> Path:
    return data_dir / "catalog.sqlite"


def logs_dir(data_dir: Path) -> Path:
    return data_dir / "logs"


def engine_log_path(data_dir: Path) -> Path:
    """The engine child process's own log (it has no console; its failures are written here)."""
    return data_dir / "engine.log"


def app_log_path(data_dir: Path) -> Path:
    """The desktop app's own log (warnings and errors; a double-clicked app has no console)."""
    return data_dir / "labdeck.log"


def work_dir(data_dir: Path) -> Path:
    """Scratch space for the local node's script files."""
    return data_dir / "work"
