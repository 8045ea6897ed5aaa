"""Runs page: the run history with filters (project, job, node, status, since a date) and a search
box; double-click opens a run in the run view.

The history can hold years of runs, so the table is a RunHistoryModel: filters, search and
sorting run in SQL and rows arrive a page at a time (scroll to the end, or Load more)."""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...engine.api import EngineApi
from ...store.projects import project_names
from ..models.run_history import (  # noqa: F401
    COLUMNS,
    JOB_COLUMN,
    NODES_ROLE,
    STARTED_ROLE,
    RunFilters,
    RunHistoryModel,
    history_job_names,
)
from ..widgets.context_menu import install_menu
from ..widgets.flow_layout import FlowLayout
from ..widgets.page_parts import fill_project_combo, project_filter

ALL = "(all)"


class RunsPage(QWidget):
    openRun = Signal(int)

    def __init__(self, engine: EngineApi, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.model = RunHistoryModel(engine.catalog, self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        # Column widths come from the first rows once (not ResizeToContents, which measures
        # up to a thousand rows again on every reload and every page fetched).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(60)
        header.setStretchLastSection(True)
        self._sized = False
        self.view.doubleClicked.connect(self._open)
        install_menu(self.view, self._menu_entries)

        self.project = QComboBox()
        self.project.setMinimumWidth(130)
        self.project.setToolTip("Runs of one project's jobs")
        self.project.currentTextChanged.connect(self._project_changed)
        self.job = QComboBox()
        self.node = QComboBox()
        self.status = QComboBox()
        self.status.addItems([ALL, "queued", "running", "succeeded", "failed", "timed_out", "cancelled", "interrupted",
                              "missed", "skipped"])
        self.use_since = QCheckBox("Since")
        self.since = QDateEdit(QDate.currentDate().addDays(-7))
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")  # the locale's short format read "26 11 2026" here
        self.since.setEnabled(False)
        self.use_since.toggled.connect(self.since.setEnabled)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search runs (#id, job, node, status, targets)…")
        self.search.setClearButtonEnabled(True)
        for w in (self.job, self.node, self.status):
            w.currentTextChanged.connect(self.apply_filters)
            w.setMinimumWidth(130)
        self.use_since.toggled.connect(self.apply_filters)
        self.since.dateChanged.connect(self.apply_filters)
        self.search.textChanged.connect(self.apply_filters)
        bar = FlowLayout()  # wraps on a narrow window
        for label, w in (("Project", self.project), ("Job", self.job), ("Node", self.node), ("Status", self.status)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addWidget(self.use_since)
        bar.addWidget(self.since)
        bar.addWidget(self.search, 1)
        self.count = QLabel()
        self.more_button = QPushButton("Load more")
        self.more_button.setToolTip("Show the next older runs (scrolling to the end does it too)")
        self.more_button.clicked.connect(self.load_more)
        foot = QHBoxLayout()
        foot.addWidget(self.count, 1)
        foot.addWidget(self.more_button)
        self.model.rowsInserted.connect(self._update_count)
        self.model.modelReset.connect(self._update_count)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Run history</h2>"))
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addLayout(foot)
        self._update_count()

    def refresh(self) -> None:
        """Query again, keeping the rows the user has loaded, the selection and the scroll position."""
        selected = {self.model.run_id(i.row()) for i in self.view.selectionModel().selectedRows()}
        scroll = self.view.verticalScrollBar().value()
        fill_project_combo(self.project, project_names(self.engine.catalog))
        self._fill_job_combo()
        self._fill_combo(self.node, [n.name for n in self.engine.catalog.list_nodes()])
        filters = self._filters()
        if filters != self.model.filters or not self.model.active:
            self.model.filters = filters
        self.model.reload(keep=self.model.loaded())
        if not self._sized and self.model.rowCount():
            self._sized = True
            self.view.resizeColumnsToContents()
        if selected:
            sel = self.view.selectionModel()
            for row in range(self.model.rowCount()):
                if self.model.run_id(row) in selected:
                    sel.select(self.model.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
        self.view.verticalScrollBar().setValue(scroll)

    def _fill_job_combo(self) -> None:
        project = project_filter(self.project)  # a project shows its jobs only
        self._fill_combo(self.job, [j.name for j in self.engine.catalog.list_jobs(project)]
                         + ([] if project else history_job_names(self.engine.catalog)))

    def _project_changed(self, *_args) -> None:
        self._fill_job_combo()
        self.apply_filters()

    @staticmethod
    def _fill_combo(combo: QComboBox, names: list[str]) -> None:
        items = [ALL] + sorted(set(names))
        if [combo.itemText(i) for i in range(combo.count())] == items:
            return
        current = combo.currentText() or ALL
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(items)
        combo.setCurrentText(current)
        combo.blockSignals(False)

    def _filters(self) -> RunFilters:
        def pick(combo) -> str | None:
            return None if combo.currentText() in ("", ALL) else combo.currentText()

        since = None
        if self.use_since.isChecked():
            since = float(self.since.date().startOfDay().toSecsSinceEpoch())
        return RunFilters(pick(self.job), pick(self.node), pick(self.status), since, self.search.text(),
                          project_filter(self.project))

    def apply_filters(self, *_args) -> None:
        self.model.set_filters(self._filters())

    def load_more(self) -> None:
        if self.model.canFetchMore():
            self.model.fetchMore()

    def _update_count(self, *_args) -> None:
        shown, total = self.model.rowCount(), self.model.total
        if shown < total:
            self.count.setText(f"{shown:,} of {total:,} runs shown — scroll to the end or Load more for older ones")
        else:
            self.count.setText(f"{total:,} runs")
        self.more_button.setEnabled(shown < total)

    def run_id_at(self, row: int) -> int:
        return self.model.run_id(row)

    def _open(self, index) -> None:
        self.openRun.emit(self.run_id_at(index.row()))

    def _menu_entries(self) -> list:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return [("Clear the filters", self.clear_filters, True)]
        row = rows[0].row()
        run_id = self.run_id_at(row)
        job = self.model.index(row, JOB_COLUMN).data()
        return [(f"Open run #{run_id}", lambda: self.openRun.emit(run_id), True), None,
                (f"Only runs of {job}", lambda: self.job.setCurrentText(job), bool(job)),
                ("Clear the filters", self.clear_filters, True)]

    def show_filtered(self, job: str, status: str | None = None, run_id: int | None = None) -> None:
        """The history of one job (and one status), e.g. from a point clicked on the job's trend,
        with that run selected when it is among them."""
        self.clear_filters()
        self.refresh()
        self._fill_combo(self.job, [self.job.itemText(i) for i in range(1, self.job.count())] + [job])
        self.job.setCurrentText(job)
        if status and self.status.findText(status) >= 0:
            self.status.setCurrentText(status)
        if run_id is not None:
            for row in range(self.model.rowCount()):
                if self.model.run_id(row) == run_id:
                    self.view.selectRow(row)
                    self.view.scrollTo(self.model.index(row, 0))
                    break

    def clear_filters(self) -> None:
        for combo in (self.job, self.node, self.status):
            combo.setCurrentText(ALL)
        self.use_since.setChecked(False)
        self.search.clear()
