"""The app and tray icons from the repository's ``resources/`` folder, found the same way from a
source checkout and from the PyInstaller build (which bundles that folder as ``resources``
under ``sys._MEIPASS``). If the folder is missing (an installed wheel carries no resources)
the icons fall back to plain painted dots, so the app still runs."""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from .status_style import dot_icon

log = logging.getLogger(__name__)

APP_SIZES = (16, 24, 32, 48, 64, 128, 256)
TRAY_SIZES = (16, 24, 32, 48, 64)
TRAY_STATES = {"idle": "#43a047", "running": "#1e88e5", "failed": "#e53935"}


def resources_dir() -> Path | None:
    """The folder with the icon files, or None if this installation has none."""
    bundled = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundled) / "resources"] if bundled else []
    candidates.append(Path(__file__).resolve().parents[3] / "resources")  # app/labdeck/gui -> repository
    for folder in candidates:
        if (folder / "labdeck-256.png").is_file():
            return folder
    log.warning("LabDeck's icon files were not found (looked in %s); using plain icons",
                ", ".join(map(str, candidates)))
    return None


def _icon_from(pattern: str, sizes: tuple[int, ...]) -> QIcon | None:
    folder = resources_dir()
    if folder is None:
        return None
    icon = QIcon()
    for size in sizes:
        path = folder / pattern.format(size=size)
        if path.is_file():
            icon.addFile(str(path))
    return None if icon.isNull() else icon


@cache
def app_icon() -> QIcon:
    return _icon_from("labdeck-{size}.png", APP_SIZES) or dot_icon("#26a69a", 64)


@cache
def tray_icon(state: str) -> QIcon:
    """The tray icon for ``idle``, ``running`` or ``failed``."""
    if state not in TRAY_STATES:
        raise ValueError(f"unknown tray state {state!r}; expected one of {', '.join(TRAY_STATES)}")
    return _icon_from(f"tray-{state}-{{size}}.png", TRAY_SIZES) or dot_icon(TRAY_STATES[state], 64)
