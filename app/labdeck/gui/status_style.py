"""Colours, labels and small painted icons for run and node states (no image resources needed)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

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


def status_color(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, "#9e9e9e"))


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
    icon = _ICONS.get(status)
    if icon is None:
        icon = _ICONS[status] = dot_icon(STATUS_COLORS.get(status, "#9e9e9e"), 12)
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
