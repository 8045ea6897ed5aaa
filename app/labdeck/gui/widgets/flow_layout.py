"""FlowLayout: a row of buttons and fields that wraps onto the next line when the window is
narrow, so a page's tool bar never sets the window's minimum width (1024x640 screens, 150 %
scaling). A drop-in for the QHBoxLayout tool bars: ``addWidget`` and ``addStretch`` (a stretch
is where the row may break and is otherwise ignored; a stretch factor widens nothing)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QSizePolicy

_WIDENING = (QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)


class FlowLayout(QLayout):
    def __init__(self, parent=None, spacing: int = 6):
        super().__init__(parent)
        self._items: list = []
        self._gap = spacing
        self._heights: dict[int, int] = {}   # width -> height, until the layout is invalidated
        self.setContentsMargins(0, 0, 0, 0)

    # ---- QHBoxLayout-like API ---------------------------------------------------------------

    def addWidget(self, widget, _stretch: int = 0, _alignment=None) -> None:  # noqa: N802 - Qt naming
        super().addWidget(widget)

    def addStretch(self, _stretch: int = 0) -> None:  # noqa: N802 - Qt naming
        """Nothing to stretch in a flow; kept so tool bars read the same as before."""

    # ---- QLayout ------------------------------------------------------------------------------

    def addItem(self, item) -> None:  # noqa: N802
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        height = self._heights.get(width)
        if height is None:   # Qt asks many times per layout pass
            height = self._heights[width] = self._place(QRect(0, 0, width, 0), move=False)
        return height

    def invalidate(self) -> None:
        self._heights.clear()
        super().invalidate()

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        width = sum(i.sizeHint().width() for i in self._items) + self._gap * max(0, len(self._items) - 1)
        height = max((i.sizeHint().height() for i in self._items), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if item.widget() is not None and item.widget().sizePolicy().horizontalPolicy() in _WIDENING:
                hint.setWidth(max(hint.width(), min(area.width(), 320)))  # a search field gets room
            next_x = x + hint.width()
            if next_x > area.right() + 1 and line_height > 0:
                x, y = area.x(), y + line_height + self._gap
                next_x, line_height = x + hint.width(), 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), QSize(min(hint.width(), area.width()), hint.height())))
            x = next_x + self._gap
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + m.bottom()


