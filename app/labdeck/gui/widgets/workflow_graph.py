"""A workflow run drawn as a graph: one box per step in layers from left to right (a step sits
one layer after its deepest dependency), arrows from each dependency, each box coloured by
the step's state; the on-failure step sits at the far right with a dashed border."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ...core.job_plan import FlowStep, layers
from ..status_style import STATUS_COLORS

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 46, 70, 24, 16
STATE_COLORS = STATUS_COLORS | {"waiting": "#fdd835", "pending": "#e0e0e0", "skipped": "#bdbdbd"}


class WorkflowGraph(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps: list[FlowStep] = []
        self.handler: FlowStep | None = None
        self.states: dict[str, str] = {}
        self.boxes: dict[str, QRectF] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(BOX_H + 2 * MARGIN)

    def set_workflow(self, steps: list[FlowStep], handler: FlowStep | None) -> None:
        self.steps, self.handler = list(steps), handler
        self._layout()
        self.updateGeometry()
        self.update()

    def set_states(self, states: dict[str, str]) -> None:
        if states != self.states:
            self.states = dict(states)
            self.update()

    def state_of(self, name: str) -> str:
        return self.states.get(name, "pending")

    def _layout(self) -> None:
        self.boxes = {}
        columns = layers(self.steps) if self.steps else []
        if self.handler is not None:
            columns.append([self.handler.name])
        for x, column in enumerate(columns):
            for y, name in enumerate(column):
                self.boxes[name] = QRectF(MARGIN + x * (BOX_W + GAP_X), MARGIN + y * (BOX_H + GAP_Y), BOX_W, BOX_H)

    def sizeHint(self) -> QSize:
        if not self.boxes:
            return QSize(200, BOX_H + 2 * MARGIN)
        right = max(r.right() for r in self.boxes.values())
        bottom = max(r.bottom() for r in self.boxes.values())
        return QSize(int(right + MARGIN), int(bottom + MARGIN))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_color = self.palette().text().color()
        p.setPen(QPen(text_color, 1.4))
        for step in self.steps:
            for dep in step.depends_on:
                self._arrow(p, self.boxes[dep], self.boxes[step.name])
        for name, rect in self.boxes.items():
            state = self.state_of(name)
            color = QColor(STATE_COLORS.get(state, "#9e9e9e"))
            pen = QPen(color.darker(140), 2)
            if self.handler is not None and name == self.handler.name:
                pen.setStyle(Qt.PenStyle.DashLine)
            dark = self.palette().base().color().lightnessF() < 0.5
            if dark:   # a deep tint of the state with the palette's light text, not a pale card
                pen.setColor(color)
            p.setPen(pen)
            p.setBrush(color.darker(260) if dark else color.lighter(150))
            p.drawRoundedRect(rect, 6, 6)
            p.setPen(text_color if dark else QColor("#212121"))
            p.drawText(rect.adjusted(6, 4, -6, -BOX_H / 2), Qt.AlignmentFlag.AlignCenter, name)
            p.drawText(rect.adjusted(6, BOX_H / 2, -6, -4), Qt.AlignmentFlag.AlignCenter, state.replace("_", " "))
        p.end()

    @staticmethod
    def _arrow(p: QPainter, source: QRectF, target: QRectF) -> None:
        start = QPointF(source.right(), source.center().y())
        end = QPointF(target.left(), target.center().y())
        path = QPainterPath(start)
        mid = (start.x() + end.x()) / 2
        path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.setBrush(p.pen().color())
        p.drawPolygon([end, QPointF(end.x() - 8, end.y() - 4), QPointF(end.x() - 8, end.y() + 4)])
