"""LogView: a viewer for huge, growing log files (DESIGN.md contract #10).

It never loads the file: a LineIndex (background thread, one integer per 64 KiB) gives
line ``k`` by seek+read, and LogArea (log_area.py), a custom QAbstractScrollArea viewport, paints
only the visible lines, so a 1 GiB log opens at once and costs almost no memory (no per-line
item, no per-row header section). It follows the tail while "Follow" is on, searches with
next/previous jumping (the scan runs on a worker thread), copies the selected lines, and
opens the file in the system's editor.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QGuiApplication, QKeySequence)
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from ..workers import run_async
from .log_area import LogArea
from .log_index import LineIndex

MAX_COPY_LINES = 200_000
NOTE_COLOR = QColor("#c62828")
FAST_POLL_MS = 20      # right after a file is opened, until its first lines show (at most FAST_POLL_S)
FAST_POLL_S = 1.0


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

    def open_external(self):
        """Open the log in the system's viewer; without one, the box that offers to copy its path."""
        if self.path:
            from ..open_external import open_path
            self.launcher_box = open_path(self, self.path, "log files")
            return self.launcher_box
        return None

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
