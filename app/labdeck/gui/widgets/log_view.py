"""LogView: a viewer for huge, growing log files (DESIGN.md contract #10).

It never loads the file: a LineIndex (background thread, one integer per 64 KiB) gives
line ``k`` by seek+read, and LogArea — a custom QAbstractScrollArea viewport — paints only
the visible lines, so a 1 GiB log opens at once and costs almost no memory (no per-line
item, no per-row header section). It follows the tail while "Follow" is on, searches with
next/previous jumping (the scan runs on a worker thread), copies the selected lines, and
opens the file in the system's editor.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QRect, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (QColor, QDesktopServices, QFontDatabase, QFontMetrics, QGuiApplication, QKeySequence,
                           QPainter)
from PySide6.QtWidgets import (QAbstractScrollArea, QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from ..workers import run_async
from .log_index import LineIndex

MAX_COPY_LINES = 200_000
NOTE_COLOR = QColor("#c62828")
FAST_POLL_MS = 20      # right after a file is opened, until its first lines show (at most FAST_POLL_S)
FAST_POLL_S = 1.0


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
            match_bg = QColor("#fff59d")
            for i, row in enumerate(range(first, last)):
                y, text = i * lh, texts[i]
                if sel and sel[0] <= row <= sel[1]:
                    p.fillRect(QRect(0, y, width, lh), hl)
                if row == self.match_row and self.needle:
                    p.fillRect(QRect(gutter - 6, y, width, lh), QColor(255, 245, 157, 90))
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
        # the lines, clipped right of the gutter; LabDeck's own notes in red
        p.setPen(text_color)
        clip_rect.setRect(gutter - 4, 0, width, rect.height())
        p.setClipRect(clip_rect)
        red = False
        widest = self._max_width
        for i, text in enumerate(texts):
            note = text.startswith("[labdeck]")
            if note != red:
                red = note
                p.setPen(NOTE_COLOR if note else text_color)
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


class LogView(QWidget):
    """Toolbar (search, next/previous, follow, copy, open) over a LogArea for one log file."""
    searchFinished = Signal(object)   # the row of the match, or None

    def __init__(self, parent: QWidget | None = None, poll_ms: int = 200):
        super().__init__(parent)
        self.path: Path | None = None
        self.index: LineIndex | None = None
        self._search_gen = 0
        self.area = LogArea()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the log… (Enter: next, Shift+Enter: previous)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.find_next)
        self.prev_button = QToolButton(text="▲")
        self.prev_button.setToolTip("Previous match (Shift+F3)")
        self.prev_button.clicked.connect(self.find_previous)
        self.next_button = QToolButton(text="▼")
        self.next_button.setToolTip("Next match (F3)")
        self.next_button.clicked.connect(self.find_next)
        self.status = QLabel()
        self.status.setMinimumWidth(140)
        self.follow_box = QCheckBox("Follow")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("Keep showing the newest lines as they arrive (End)")
        self.follow_box.toggled.connect(self.area.set_follow)
        self.area.followChanged.connect(self._follow_changed)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the selected lines (Ctrl+C); click and shift-click to select")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.area.selected_text()))
        self.open_button = QPushButton("Open externally")
        self.open_button.setToolTip("Open the log file in the system's text editor")
        self.open_button.clicked.connect(self.open_external)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.search, self.prev_button, self.next_button, self.status, self.follow_box, copy,
                  self.open_button):
            bar.addWidget(w)
        bar.setStretchFactor(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.area, 1)
        self.poll_ms = poll_ms
        self._fast_until = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def set_path(self, path: str | Path | None) -> None:
        if self.index is not None:
            self.index.close()
        self.path = Path(path) if path else None
        self.index = LineIndex(self.path) if self.path else None
        self.area.index = self.index
        self.area.anchor = self.area.cursor_row = self.area.match_row = None
        self.area._max_width = 0
        self.area.set_rows(0)
        self.follow_box.setChecked(True)
        self.area.set_follow(True)
        self.status.clear()
        if self.index is not None:  # show the first lines as soon as the indexer has them
            self._fast_until = time.monotonic() + FAST_POLL_S
            self.timer.setInterval(min(FAST_POLL_MS, self.poll_ms))

    def closeEvent(self, event) -> None:
        self.close_index()
        super().closeEvent(event)

    def close_index(self) -> None:
        if self.index is not None:
            self.index.close()

    def poll(self) -> None:
        if self.index is None:
            return
        rows = self.index.rows()
        if self.timer.interval() != self.poll_ms and (rows or time.monotonic() > self._fast_until):
            self.timer.setInterval(self.poll_ms)
        if rows != self.area.rows:
            self.area.set_rows(rows)
        elif self.index.indexing or self.area.rows:
            self.area.viewport().update()

    def nudge(self) -> None:
        """New output arrived: look at the file now instead of at the next poll."""
        if self.index is not None:
            self.index.wake()

    def _follow_changed(self, on: bool) -> None:
        self.follow_box.blockSignals(True)
        self.follow_box.setChecked(on)
        self.follow_box.blockSignals(False)

    def open_external(self) -> None:
        if self.path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))

    # ---- search ------------------------------------------------------------------------------------

    def find_next(self) -> None:
        mods = QGuiApplication.keyboardModifiers()
        self._find(not (mods & Qt.KeyboardModifier.ShiftModifier))

    def find_previous(self) -> None:
        self._find(False)

    def _find(self, forward: bool) -> None:
        needle = self.search.text()
        index = self.index
        if not needle or index is None:
            return
        self._search_gen += 1
        gen = self._search_gen
        area = self.area
        if area.match_row is not None:
            from_row = area.match_row + 1 if forward else area.match_row
        else:
            from_row = area.first_row() if forward else area.first_row() + area.visible_rows()
        self.status.setText("searching…")
        self.area.needle = needle

        def work():
            cancelled = lambda: gen != self._search_gen
            start = index.offset_of_line(from_row)
            hit = index.search(needle, start, forward, cancelled=cancelled)
            wrapped = False
            if hit is None and not cancelled():
                wrapped = True
                hit = index.search(needle, 0 if forward else 1 << 62, forward, cancelled=cancelled)
            return (None if hit is None else index.line_of_offset(hit)), wrapped

        run_async(work, lambda result: self._found(gen, *result), lambda exc: self.status.setText(str(exc)))

    def _found(self, gen: int, row: int | None, wrapped: bool) -> None:
        if gen != self._search_gen:
            return
        if row is None:
            self.status.setText("<span style='color:#c62828'>no match</span>")
            self.area.match_row = None
        else:
            self.status.setText(f"line {row + 1}" + (" (wrapped)" if wrapped else ""))
            self.area.match_row = row
            self.area.select_rows(row, row)
            self.area.goto_row(row)
        self.searchFinished.emit(row)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_F3:
            self._find(not (event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        elif event.matches(QKeySequence.StandardKey.Find):
            self.search.setFocus()
            self.search.selectAll()
        else:
            super().keyPressEvent(event)
