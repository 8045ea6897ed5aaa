"""ResourceGaugeDelegate: a node's CPU, memory, disk or GPU use in the nodes grid — a bar per
value (one per GPU) with its percentage, and a sparkline of the last hour of probes beside it.

Cells of a table are painted by a delegate, not hosted widgets (fifty rows of chart widgets
would make the grid slow to scroll and to switch to); the bars and the polyline are a few
QPainter calls per cell. The real charts (a node's day, a run's timeline, a job's trend) use
pyqtgraph (widgets/charts.py)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF  # noqa: F401 - QPainter in signatures
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

BAR_W = 48
SPARK_W = 44
LABEL_W = 40
LEVELS = ((90.0, "#e53935"), (70.0, "#fb8c00"), (0.0, "#43a047"))   # busy -> red, orange, green


def level_color(percent: float) -> QColor:
    return QColor(next(color for limit, color in LEVELS if percent >= limit))


def sparkline_points(history, rect: QRectF) -> list[QPointF]:
    """The history (0-100) as points across ``rect``, oldest on the left."""
    values = list(history)
    if len(values) < 2:
        return []
    step = rect.width() / (len(values) - 1)
    return [QPointF(rect.left() + i * step, rect.bottom() - rect.height() * max(0.0, min(100.0, v)) / 100.0)
            for i, v in enumerate(values)]


class ResourceGaugeDelegate(QStyledItemDelegate):
    def __init__(self, role: int, parent=None):
        super().__init__(parent)
        self._role = role
        self._lines: dict[tuple, QPolygonF] = {}   # (history, rect) -> polyline: 50 rows repaint often

    def _polyline(self, history, rect: QRectF) -> QPolygonF:
        key = (history, rect.x(), rect.y(), rect.width(), rect.height())
        line = self._lines.get(key)
        if line is None:
            if len(self._lines) > 2000:
                self._lines.clear()
            line = self._lines[key] = QPolygonF(sparkline_points(history, rect))
        return line

    def paint(self, painter: QPainter, option, index) -> None:
        g = index.data(self._role)
        if g is None:
            return super().paint(painter, option, index)   # "—": never probed
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        text_color = option.palette.highlightedText().color() if option.state & QStyle.StateFlag.State_Selected \
            else option.palette.text().color()
        painter.save()   # no antialiasing: square bars and a 1 px line look the same without it, at a third of the cost
        r = QRectF(option.rect).adjusted(4, 3, -4, -3)
        values = g.now or ()
        track = QColor(option.palette.mid().color())
        track.setAlpha(60)
        if values:
            lane = r.height() / len(values)
            for i, v in enumerate(values):
                bar = QRectF(r.left(), r.top() + i * lane + 0.5, BAR_W, max(2.0, lane - 1))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(track)
                painter.drawRect(bar)
                painter.setBrush(level_color(v))
                painter.drawRect(QRectF(bar.left(), bar.top(), bar.width() * v / 100.0, bar.height()))
            label = f"{values[0]:.0f}%" if len(values) == 1 else f"{max(values):.0f}% max"
            painter.setPen(text_color)
            painter.drawText(QRectF(r.left() + BAR_W + 4, r.top(), LABEL_W - 2, r.height()),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
        spark = QRectF(r.left() + BAR_W + LABEL_W + 4, r.top() + 1, SPARK_W, r.height() - 2)
        if len(g.history) > 1:
            painter.setPen(QPen(level_color(max(g.history)), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolyline(self._polyline(g.history, spark))
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        if index.data(self._role) is None:   # "—": as narrow as the text
            return super().sizeHint(option, index)
        return QSize(BAR_W + LABEL_W + SPARK_W + 14, 22)
