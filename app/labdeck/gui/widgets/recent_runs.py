"""RecentRunsDelegate: paints a node's last runs as a row of small coloured cells."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from ..status_style import status_color

CELL = 12
GAP = 3


class RecentRunsDelegate(QStyledItemDelegate):
    def __init__(self, role: int, slots: int = 8, parent=None):
        super().__init__(parent)
        self._role = role
        self._slots = slots

    def paint(self, painter: QPainter, option, index) -> None:
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        runs = index.data(self._role) or []
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        y = option.rect.top() + (option.rect.height() - CELL) // 2
        x = option.rect.left() + 6
        empty = QColor(option.palette.mid().color())
        empty.setAlpha(70)
        padded = [None] * (self._slots - len(runs)) + [s for _, s in runs[-self._slots:]]
        for status in padded:
            rect = QRect(x, y, CELL, CELL)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(status_color(status) if status else empty)
            painter.drawRoundedRect(rect, 2, 2)
            x += CELL + GAP
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        return QSize(12 + self._slots * (CELL + GAP), CELL + 8)
