"""LogArea: the viewport of the log viewer. It paints only the visible lines of a huge file,
read through a LineIndex (seek + read of the blocks on screen), with line numbers, a
selection, search-hit highlighting and LabDeck's own notes in colour."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QFontMetrics, QGuiApplication, QKeySequence, QPainter
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from ..status_style import readable_on
from .log_index import LineIndex

MAX_COPY_LINES = 200_000
NOTE_COLOR = QColor("#c62828")       # LabDeck's notes that report a problem
INFO_NOTE_COLOR = QColor("#3f7fcf")  # its informational notes ("started detached ..."): not an error
_PROBLEM = re.compile(r"fail|error|kill|unreachable|lost|timed out|timeout|cancel|refus|denied|unconfirmed|"
                      r"exit (code )?[1-9]|stopp|gone|missing|not found", re.IGNORECASE)


def note_color(text: str) -> QColor:
    """Red for a ``[labdeck]`` note about a problem, blue for one that only informs."""
    return NOTE_COLOR if _PROBLEM.search(text) else INFO_NOTE_COLOR


class LogArea(QAbstractScrollArea):
    """Paints the visible lines of a LineIndex, with line numbers, a row selection and a match highlight."""
    followChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.index: LineIndex | None = None
        self.rows = 0
        self.follow = True
        self.anchor: int | None = None   # selection: rows anchor..cursor
        self.cursor_row: int | None = None
        self.match_row: int | None = None
        self.needle = ""
        self._max_width = 0
        self._moving = False
        self._tools: tuple | None = None
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._fm = QFontMetrics(self.font())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())

    # ---- geometry ----------------------------------------------------------------------------------

    # Painting and polling keep Qt object construction (fontMetrics(), QRect, QColor, QBrush ...)
    # out of per-line work: PySide releases the GIL around such calls, and while the engine's
    # threads stream output each release can cost the GUI thread milliseconds to get it back.

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fm = QFontMetrics(self.font())
        elif event.type() == QEvent.Type.PaletteChange:
            self._tools = None
        super().changeEvent(event)

    def line_height(self) -> int:
        return self._fm.height() + 2

    def visible_rows(self) -> int:
        return max(1, self.viewport().height() // self.line_height())

    def first_row(self) -> int:
        return self.verticalScrollBar().value()

    def gutter_width(self) -> int:
        return 14 + self._fm.horizontalAdvance("9") * max(4, len(str(self.rows)))

    def set_rows(self, rows: int) -> None:
        self.rows = rows
        self._update_bars()
        if self.follow:
            self.scroll_to_end()
        self.viewport().update()

    def _update_bars(self) -> None:
        bar = self.verticalScrollBar()
        self._moving = True
        bar.setRange(0, max(0, self.rows - self.visible_rows()))
        bar.setPageStep(self.visible_rows())
        self._moving = False
        h = self.horizontalScrollBar()
        h.setRange(0, max(0, self._max_width + self.gutter_width() - self.viewport().width() + 20))
        h.setPageStep(self.viewport().width())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_bars()

    def _scrolled(self, value: int) -> None:
        if not self._moving:
            at_end = value >= self.verticalScrollBar().maximum()
            if at_end != self.follow:
                self.follow = at_end
                self.followChanged.emit(at_end)
        self.viewport().update()

    def set_follow(self, on: bool) -> None:
        self.follow = on
        if on:
            self.scroll_to_end()

    def scroll_to_end(self) -> None:
        self._moving = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        self._moving = False

    def goto_row(self, row: int) -> None:
        """Show ``row`` in the middle of the view (stops following the tail unless it is the last row)."""
        bar = self.verticalScrollBar()
        self.follow = False
        self.followChanged.emit(False)
        self._moving = True
        bar.setValue(max(0, min(bar.maximum(), row - self.visible_rows() // 2)))
        self._moving = False
        self.viewport().update()

    # ---- painting -------------------------------------------------------------------------------------

    def _paint_tools(self) -> tuple:
        """Brushes, colours and reusable rects, made once per palette (not per paint or line)."""
        if self._tools is None:
            pal = self.palette()
            base = pal.base().color()
            # the notes' red and blue, and a search match, stay readable on a dark palette too
            notes = {True: readable_on(NOTE_COLOR, base, 4.5), False: readable_on(INFO_NOTE_COLOR, base, 4.5)}
            dark = base.lightnessF() < 0.5
            self._match = (QColor("#7a5c00") if dark else QColor("#fff59d"),
                           QColor(255, 245, 157, 40 if dark else 90))
            self._notes = notes
            self._tools = (pal.base(), pal.alternateBase(), pal.placeholderText().color(), pal.text().color(),
                           QRect(), QRect())
        return self._tools

    def paintEvent(self, event) -> None:
        p = QPainter(self.viewport())
        base, alternate, dim, text_color, gutter_rect, clip_rect = self._paint_tools()
        rect = self.viewport().rect()
        p.fillRect(rect, base)
        gutter = self.gutter_width()
        gutter_rect.setRect(0, 0, gutter - 6, rect.height())
        p.fillRect(gutter_rect, alternate)
        if self.index is None or self.rows == 0:
            p.setPen(dim)
            p.drawText(rect.adjusted(gutter, 6, 0, 0), Qt.AlignmentFlag.AlignLeft, "(no output yet)")
            return
        lh = self.line_height()
        fm = self._fm
        ascent = fm.ascent()
        first = self.first_row()
        last = min(self.rows, first + self.visible_rows() + 1)
        x0 = gutter - self.horizontalScrollBar().value()
        width = rect.width()
        texts = self.index.lines(first, last - first)
        sel = self.selection()
        if sel or (self.needle and self.match_row is not None):  # rare: a few rows, Qt objects are fine
            pal = self.palette()
            hl = QColor(pal.highlight().color())
            hl.setAlpha(70)
            match_bg, match_row_bg = self._match
            for i, row in enumerate(range(first, last)):
                y, text = i * lh, texts[i]
                if sel and sel[0] <= row <= sel[1]:
                    p.fillRect(QRect(0, y, width, lh), hl)
                if row == self.match_row and self.needle:
                    p.fillRect(QRect(gutter - 6, y, width, lh), match_row_bg)
                    at = text.lower().find(self.needle.lower())
                    while at >= 0:
                        left = x0 + fm.horizontalAdvance(text[:at])
                        p.fillRect(QRect(left, y, fm.horizontalAdvance(text[at:at + len(self.needle)]), lh), match_bg)
                        at = text.lower().find(self.needle.lower(), at + len(self.needle))
        # line numbers, right-aligned in the gutter
        p.setPen(dim)
        right = gutter - 10
        for i, row in enumerate(range(first, last)):
            number = str(row + 1)
            p.drawText(right - fm.horizontalAdvance(number), i * lh + 1 + ascent, number)
        # the lines, clipped right of the gutter; LabDeck's own notes in red (problems) or blue
        p.setPen(text_color)
        clip_rect.setRect(gutter - 4, 0, width, rect.height())
        p.setClipRect(clip_rect)
        pen = text_color
        widest = self._max_width
        for i, text in enumerate(texts):
            want = self._notes[note_color(text) is NOTE_COLOR] if text.startswith("[labdeck]") else text_color
            if want is not pen:
                pen = want
                p.setPen(want)
            p.drawText(x0, i * lh + 1 + ascent, text)
            widest = max(widest, fm.horizontalAdvance(text[:400]))
        p.setClipping(False)
        p.end()
        if widest > self._max_width:
            self._max_width = widest
            self._update_bars()

    # ---- selection, keys -----------------------------------------------------------------------------

    def selection(self) -> tuple[int, int] | None:
        if self.anchor is None or self.cursor_row is None:
            return None
        return min(self.anchor, self.cursor_row), max(self.anchor, self.cursor_row)

    def _row_at(self, y: int) -> int:
        return max(0, min(self.rows - 1, self.first_row() + y // self.line_height()))

    def mousePressEvent(self, event) -> None:
        if self.rows == 0:
            return
        row = self._row_at(int(event.position().y()))
        if not (event.modifiers() & Qt.KeyboardModifier.ShiftModifier) or self.anchor is None:
            self.anchor = row
        self.cursor_row = row
        self.viewport().update()

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.anchor is not None:
            self.cursor_row = self._row_at(int(event.position().y()))
            self.viewport().update()

    def select_rows(self, first: int, last: int) -> None:
        self.anchor, self.cursor_row = first, last
        self.viewport().update()

    def selected_text(self) -> str:
        sel = self.selection()
        if not sel or self.index is None:
            return ""
        first, last = sel[0], min(sel[1], sel[0] + MAX_COPY_LINES - 1)
        return "\n".join(self.index.lines(first, last - first + 1))

    def keyPressEvent(self, event) -> None:
        bar = self.verticalScrollBar()
        if event.matches(QKeySequence.StandardKey.Copy):
            QGuiApplication.clipboard().setText(self.selected_text())
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_rows(0, max(0, self.rows - 1))
        elif event.key() == Qt.Key.Key_Down:
            bar.setValue(bar.value() + 1)
        elif event.key() == Qt.Key.Key_Up:
            bar.setValue(bar.value() - 1)
        elif event.key() == Qt.Key.Key_PageDown:
            bar.setValue(bar.value() + bar.pageStep())
        elif event.key() == Qt.Key.Key_PageUp:
            bar.setValue(bar.value() - bar.pageStep())
        elif event.key() == Qt.Key.Key_Home:
            bar.setValue(0)
        elif event.key() == Qt.Key.Key_End:
            self.set_follow(True)
            self.followChanged.emit(True)
        else:
            super().keyPressEvent(event)
