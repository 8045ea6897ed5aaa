"""Where LabDeck keeps its data: ``--data-dir``, else ``LABDECK_HOME``, else the OS's user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get("LABDECK_HOME"):
        path = Path(os.environ["LABDECK_HOME"])
    else:
        path = Path(platformdirs.user_data_dir("LabDeck", appauthor=False))
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


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
