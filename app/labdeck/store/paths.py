"""Where LabDeck keeps its data: ``--data-dir``, else ``LABDECK_HOME``, else the OS's user data folder."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import platformdirs

from ..core.errors import InvalidInput


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data folder, created if missing and checked to be a folder LabDeck can write in:
    a file, a read-only folder or a read-only filesystem is one clear InvalidInput."""
    if explicit:
        path, given = Path(explicit), "--data-dir"
    elif os.environ.get("LABDECK_HOME"):
        path, given = Path(os.environ["LABDECK_HOME"]), "$LABDECK_HOME"
    else:
        path, given = Path(platformdirs.user_data_dir("LabDeck", appauthor=False)), "the user data folder"
    path = path.expanduser().resolve()
    where = f"the data folder {path} ({given})"
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


def app_log_path(data_dir: Path) -> Path:
    """The desktop app's own log (warnings and errors; a double-clicked app has no console)."""
    return data_dir / "labdeck.log"


def work_dir(data_dir: Path) -> Path:
    """Scratch space for the local node's script files."""
    return data_dir / "work"
