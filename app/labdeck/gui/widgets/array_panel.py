"""An array run's progress: a bar with "734 / 1000 done, 3 failed", a table of its items
(task, node, status, attempt, exit code, duration, message; double-click opens an item's run)
and the items per node over time as a timeline (click a bar to open that item's run)."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QProgressBar, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from ...store import run_queue
from ..status_style import fmt_duration, status_icon
from .page_parts import read_only_table
from .run_timeline import RunTimeline, array_bars

COLUMNS = ["Task", "Node", "Status", "Attempt", "Exit", "Duration", "Item / message"]


class ArrayPanel(QWidget):
    openTaskRun = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.table = read_only_table(COLUMNS)
        self.table.cellDoubleClicked.connect(self._open)
        self._task_runs: list[int] = []
        self._tasks: list[tuple] = []
        self.timeline = RunTimeline()     # the items per node over time
        self.timeline.taskRunClicked.connect(self.openTaskRun)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Items")
        self.tabs.addTab(self.timeline, "Per node over time")
        self.tabs.currentChanged.connect(lambda _i: self._update_timeline())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.tabs, 1)

    def show_progress(self, progress: dict) -> None:
        total = max(1, progress["total"])
        self.bar.setRange(0, total)
        self.bar.setValue(progress["done"] + progress["failed"])
        self.bar.setFormat(run_queue.describe_progress(progress))

    def show_items(self, tasks: list[tuple]) -> None:
        """``tasks``: store/run_queue.task_runs rows."""
        self._tasks = list(tasks)
        self._update_timeline()
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(tasks))
        self._task_runs = []
        for row, (run, nr) in enumerate(tasks):
            self._task_runs.append(run.id)
            status = nr["status"] or str(run.status)
            duration = None
            if nr["started_at"]:
                duration = (nr["finished_at"] or time.time()) - nr["started_at"]
            cells = [run.task, nr["node_name"] or "—", status.replace("_", " "), nr["attempt"],
                     "" if nr["exit_code"] is None else nr["exit_code"], fmt_duration(duration),
                     " — ".join(x for x in (run.note, nr["message"]) if x)]
            for column, value in enumerate(cells):
                item = self.table.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, column, item)
                item.setText(str(value))
                if column == 2:
                    item.setIcon(status_icon(status))
        self.table.setUpdatesEnabled(True)

    def _update_timeline(self) -> None:
        if self.tabs.currentWidget() is self.timeline:
            self.timeline.set_bars(*array_bars(self._tasks))

    def _open(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._task_runs):
            self.openTaskRun.emit(self._task_runs[row])
