"""The window's first size on the screen it opens on, and the keys that refresh it."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication, QKeySequence

PREFERRED = QSize(1280, 800)


def first_size(widget) -> QSize:
    """1280x800, or less when the screen's free area (minus the window frame) is smaller:
    a window larger than the screen hides its buttons and status bar off the edge."""
    screen = widget.screen() if widget is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    if screen is None:
        return QSize(PREFERRED)
    free = screen.availableGeometry().size() - QSize(16, 48)  # room for the frame and title bar
    return PREFERRED.boundedTo(free).expandedTo(QSize(480, 320))


def refresh_keys() -> list[QKeySequence]:
    """The platform's Refresh keys plus F5, each once (Ctrl+R runs the selected job here)."""
    keys: list[QKeySequence] = []
    for key in [*QKeySequence.keyBindings(QKeySequence.StandardKey.Refresh), QKeySequence("F5")]:
        if key.isEmpty() or key == QKeySequence("Ctrl+R") or any(key == k for k in keys):
            continue
        keys.append(key)
    return keys
