"""Where LabDeck keeps its data: ``--data-dir``, else ``LABDECK_HOME``, else the OS's user data folder.

The data folder must be on a local disk: SQLite's WAL mode needs shared memory that network file
systems (SMB shares, mapped drives) do not provide, and the catalog breaks there. A UNC path or a
Windows network drive is refused with a message saying what to do."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PureWindowsPath

import platformdirs

from ..core.errors import InvalidInput

DRIVE_REMOTE = 4  # GetDriveTypeW: a network drive


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get("LABDECK_HOME"):
        path = Path(os.environ["LABDECK_HOME"])
    else:
        path = Path(platformdirs.user_data_dir("LabDeck", appauthor=False))
    reason = network_location(str(path.expanduser()))
    path = path.expanduser().resolve()
    reason = reason or network_location(str(path))
    if reason:
        raise InvalidInput(f"the data folder {path} is {reason}; SQLite's catalog cannot work there. Choose a "
                           "folder on a local disk (--data-dir or LABDECK_HOME), e.g. the default under %LOCALAPPDATA%")
    path.mkdir(parents=True, exist_ok=True)
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
