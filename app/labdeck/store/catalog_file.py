"""The catalog file itself: an empty (0-byte) or unreadable file is damaged, and the message
about it names only the backups (``catalog.sqlite.bak-v*``, made before each schema upgrade)
that exist. SQLite would otherwise start a new, empty catalog in an empty file."""

from __future__ import annotations

import time
from pathlib import Path

from ..core.errors import CatalogError


def backups_of(path: Path) -> list[Path]:
    """The backups migrations made of the catalog, newest schema first (only those that exist)."""
    found = [p for p in path.parent.glob(f"{path.name}.bak-v*") if p.is_file() and p.stat().st_size > 0]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def damaged_message(path: Path, detail: str) -> str:
    names = ", ".join(p.name for p in backups_of(path))
    fix = (f"restore a backup ({names}, in {path.parent}) by copying it over it" if names
           else "there is no backup of it; move it away to start with an empty catalog")
    return f"the catalog {path} is damaged ({detail}); {fix}, or choose another --data-dir"


def refuse_empty_file(path: Path) -> None:
    """A catalog file of 0 bytes is damaged (SQLite would silently start a new, empty one there).
    One being created by another LabDeck process this instant gets its header within moments."""
    for _ in range(10):
        try:
            if path.stat().st_size > 0:
                return
        except FileNotFoundError:
            return
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise CatalogError(damaged_message(path, "the file is empty (0 bytes)"))
