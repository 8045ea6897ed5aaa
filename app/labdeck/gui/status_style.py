"""Colours, labels and small painted icons for run and node states (no image resources needed)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap

STATUS_COLORS = {
    "pending": "#9e9e9e",
    "queued": "#fdd835",
    "running": "#1e88e5",
    "succeeded": "#43a047",
    "failed": "#e53935",
    "timed_out": "#fb8c00",
    "cancelled": "#78909c",
    "unreachable": "#8e24aa",
    "error": "#d81b60",
    "interrupted": "#6d4c41",
    "node_lost": "#f4511e",   # the node stopped answering; the command may still run there
    "lost": "#4e342e",        # the command is gone from its node without an exit code
    "missed": "#ffb300",
    "skipped": "#bdbdbd",
    # node states
    "idle": "#43a047",
    "busy": "#1e88e5",
    "unreachable_node": "#8e24aa",
    "unknown": "#9e9e9e",
}

BAD = {"failed", "timed_out", "unreachable", "error", "interrupted", "lost", "node_lost"}


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(color: QColor, background: QColor, minimum: float = 3.0) -> QColor:
    """``color``, lightened (on a dark background) or darkened (on a light one) until it stands
    out from ``background`` by ``minimum`` — status colours stay readable in dark mode."""
    c = QColor(color)
    dark_bg = background.lightnessF() < 0.5
    for _ in range(12):
        if contrast(c, background) >= minimum:
            break
        c = c.lighter(118) if dark_bg else c.darker(115)
    return c


def is_dark() -> bool:
    return QGuiApplication.palette().color(QPalette.ColorRole.Base).lightnessF() < 0.5


def status_color(status: str) -> QColor:
    """The status colour, adjusted to stay readable on the current (light or dark) palette."""
    base = QColor(STATUS_COLORS.get(status, "#9e9e9e"))
    if not is_dark():
        return base
    return readable_on(base, QGuiApplication.palette().color(QPalette.ColorRole.Base))


def status_label(status: str) -> str:
    return status.replace("_", " ")


def dot_icon(color: str | QColor, size: int = 16, ring: str | None = None) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QColor(ring) if ring else Qt.PenStyle.NoPen)
    p.setBrush(QColor(color))
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pix)


_ICONS: dict[str, QIcon] = {}


def status_icon(status: str) -> QIcon:
    """A small dot in the status colour; one QIcon per status, painted once (history and node
    tables ask for thousands of them)."""
    key = f"{status}:{'dark' if is_dark() else 'light'}"
    icon = _ICONS.get(key)
    if icon is None:
        icon = _ICONS[key] = dot_icon(status_color(status), 12)
    return icon


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "—"
    t = time.localtime(ts)
    if time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d"):
        return time.strftime("today %H:%M:%S", t)
    return time.strftime("%Y-%m-%d %H:%M", t)


def fmt_ago(ts: float | None) -> str:
    if not ts:
        return "never"
    delta = max(0, time.time() - ts)
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    return f"{int(delta // 86400)} d ago"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def plural(n: int, word: str) -> str:
    """'1 node', '3 nodes'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
