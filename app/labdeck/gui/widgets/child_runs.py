"""The job-reference side of a run in the run view: the runs its ``job:`` steps started (a
table; double-click opens one), or, for such a child run, a link back to the run that
started it. Hidden for runs that have neither."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from ..status_style import fmt_duration, status_icon, status_label
from .page_parts import read_only_table

COLUMNS = ["Run", "Job", "Step", "Status", "Duration"]


class ChildRuns(QWidget):
    openRun = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caller = QLabel()
        self.caller.setTextFormat(Qt.TextFormat.RichText)
        self.caller.linkActivated.connect(lambda link: self.openRun.emit(int(link.split(":", 1)[1])))
        self.title = QLabel("<b>Steps that ran other jobs</b> (double-click to open)")
        self.table = read_only_table(COLUMNS)
        self.table.setMaximumHeight(160)
        self.table.doubleClicked.connect(lambda index: self.openRun.emit(self.run_id_at(index.row())))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caller)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        self.child_ids: list[int] = []
        self.hide()

    def show_run(self, catalog, run) -> None:
        children = catalog.called_runs(run.id)
        self.child_ids = [c.id for c in children]
        if run.called_by_run_id:
            caller = catalog.get_run(run.called_by_run_id)
            self.caller.setText(f"Started by <a href='run:{caller.id}'>run #{caller.id} ({caller.job_name})</a>, "
                                f"{run.note.split(' of run')[0]}")
        self.caller.setVisible(bool(run.called_by_run_id))
        self.title.setVisible(bool(children))
        self.table.setVisible(bool(children))
        self.table.setRowCount(len(children))
        for row, child in enumerate(children):
            step = child.note.split(" of run")[0]
            duration = (child.finished_at or 0) - child.started_at if child.finished_at else None
            for col, text in enumerate([f"#{child.id}", child.job_name, step, status_label(child.status.value),
                                        fmt_duration(duration)]):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                item.setText(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, child.id)
                if col == 3:
                    item.setIcon(status_icon(child.status.value))
        self.setVisible(bool(children) or bool(run.called_by_run_id))

    def run_id_at(self, row: int) -> int:
        return self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
