"""Jobs page: the job list with its last run, and Run now, Stop, Edit, New, Delete, Schedules."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QSplitter, QTableWidgetItem, QVBoxLayout, QWidget

from ...core.errors import LabDeckError
from ...core.models import StepKind
from ...engine.api import EngineApi
from ...engine.seed import SAMPLE_JOB
from ...store import queries, trends
from ...store.projects import project_names
from ..actions import Actions, ask_yes_no
from ..dialogs.job_dialog import JobDialog
from ..dialogs.rundeck_dialog import RundeckImportDialog
from ..status_style import BAD, fmt_ago, status_icon, status_label
from ..widgets.context_menu import button_entries, install_menu
from ..widgets.empty_state import EmptyState
from ..widgets.flow_layout import FlowLayout
from ..widgets.job_trend import JobTrend
from ..widgets.page_parts import add_buttons, fill_project_combo, project_filter, read_only_table

COLUMNS = ["Job", "Project", "Targets", "Steps", "Options", "Last run", "Description"]
LAST_RUN = COLUMNS.index("Last run")


class JobsPage(QWidget):
    schedulesRequested = Signal(str)   # job name: show (or add) its schedules
    historyRequested = Signal(str, str, int)  # job, status, run id: a point of the trend was clicked

    def __init__(self, engine: EngineApi, actions: Actions, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.actions = actions
        self.confirm = ask_yes_no
        self.dialog: JobDialog | None = None
        self.import_dialog: RundeckImportDialog | None = None

        self.table = read_only_table(COLUMNS)
        self.table.doubleClicked.connect(lambda _i: self.edit_job())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemSelectionChanged.connect(self._update_trend)
        self.trend = JobTrend()
        self.trend.runClicked.connect(lambda run_id, status: self.historyRequested.emit(self.trend.job_name, status,
                                                                                        run_id))
        self.trend_title = QLabel()

        bar = FlowLayout()  # wraps on a narrow window
        self.buttons = add_buttons(bar, (
                ("run", "Run now", "Run the selected job on its targets (Ctrl+R)", self.run_selected),
                ("stop", "Stop", "Cancel every running run of the selected job", self.stop_selected),
                ("edit", "Edit…", "Change the selected job", self.edit_job),
                ("new", "New…", "Create a job", self.new_job),
                ("delete", "Delete", "Delete the selected job (its run history stays)", self.delete_job),
                ("schedules", "Schedules…", "The selected job's schedules (add one if it has none)",
                 self.schedules_of_selected),
                ("import", "Import jobs…", "Jobs from a Rundeck export (YAML or XML), with a report of what "
                 "converts", self.import_jobs)))
        bar.addStretch(1)
        self.project = QComboBox()
        self.project.setMinimumWidth(160)
        self.project.setToolTip("Show the jobs of one project (nodes are shared by all projects)")
        self.project.currentTextChanged.connect(lambda _text: self.refresh())
        bar.addWidget(QLabel("Project"))
        bar.addWidget(self.project)

        install_menu(self.table, lambda: button_entries(self.buttons, ["run", "stop", "edit", "schedules"]) + [None]
                     + button_entries(self.buttons, ["delete"]))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Jobs</h2>"))
        layout.addLayout(bar)
        self.empty = EmptyState(
            "Run the sample job",
            "The sample job says hello from every node. Run it to see a run live, node by node, then "
            "create your own job (a command or a script, on all nodes or a tag).",
            [("Run the sample job", self.run_sample), ("New job…", self.new_job)])
        self.empty.hide()
        layout.addWidget(self.empty)
        trend_box = QWidget()
        tb = QVBoxLayout(trend_box)
        tb.setContentsMargins(0, 0, 0, 0)
        tb.addWidget(self.trend_title)
        tb.addWidget(self.trend, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(trend_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)
        self._update_buttons()

    def refresh(self) -> None:
        current = self.selected_job()
        fill_project_combo(self.project, project_names(self.engine.catalog))
        jobs = self.engine.catalog.list_jobs(self.project_filter())
        last = queries.last_run_per_job(self.engine.catalog)
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            kinds = [s.kind for s in job.steps]
            scripts = kinds.count(StepKind.SCRIPT)
            steps = f"{len(kinds)} ({scripts} script)" if scripts else str(len(kinds))
            run = last.get(job.name)
            cells = [job.name, job.project, job.targets, steps, ", ".join(o.name for o in job.options) or "—",
                     f"#{run['id']} {status_label(run['status'])} · {fmt_ago(run['started_at'])}" if run else "never",
                     job.description]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, job.name)
                    item.setToolTip("\n".join(s.name or s.command[:60] for s in job.steps))
                if col == LAST_RUN and run:
                    item.setIcon(status_icon(run["status"]))
                self.table.setItem(row, col, item)
        if current:
            self.select_job(current)
        elif jobs and not self.table.selectedItems():
            self.table.selectRow(0)
        self.empty.setVisible(not last and any(j.name == SAMPLE_JOB for j in jobs))
        self._update_buttons()
        self._update_trend()

    def _update_trend(self) -> None:
        name = self.selected_job()
        points = trends.job_durations(self.engine.catalog, name) if name else []
        failed = sum(p["status"] in BAD for p in points)
        self.trend_title.setText(f"<b>{name}</b>: duration of its last {len(points)} runs"
                                 + (f" · <span style='color:#e53935'>✕ {failed} failed</span>" if failed else "")
                                 + " — click a point to see those runs in the history" if points
                                 else "Run durations appear here once the selected job has run.")
        self.trend.setVisible(bool(points))
        self.trend.set_runs(name or "", points)

    def run_sample(self) -> None:
        self.select_job(SAMPLE_JOB)
        self.actions.launch_job(self, SAMPLE_JOB)

    def project_filter(self) -> str | None:
        return project_filter(self.project)

    def selected_job(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def select_job(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        name = self.selected_job()
        for key in ("run", "edit", "delete", "schedules"):
            self.buttons[key].setEnabled(name is not None)
        self.buttons["stop"].setEnabled(bool(name and queries.active_runs_of_job(self.engine.catalog, name)))

    # ---- actions --------------------------------------------------------------------------------

    def run_selected(self) -> None:
        name = self.selected_job()
        if name:
            self.actions.launch_job(self, name)

    def stop_selected(self) -> None:
        name = self.selected_job()
        if not name:
            return
        for run_id in queries.active_runs_of_job(self.engine.catalog, name):
            self.actions.cancel(run_id)

    def schedules_of_selected(self) -> None:
        name = self.selected_job()
        if name:
            self.schedulesRequested.emit(name)

    def new_job(self) -> JobDialog:
        return self._open(None)

    def edit_job(self) -> JobDialog | None:
        name = self.selected_job()
        return self._open(self.engine.catalog.get_job(name)) if name else None

    def _open(self, job) -> JobDialog:
        dialog = JobDialog(self.engine, job, self, default_project=self.project_filter())
        dialog.saved.connect(lambda name: (self.refresh(), self.select_job(name)))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def import_jobs(self) -> RundeckImportDialog:
        dialog = RundeckImportDialog(self.engine, self, default_project=self.project_filter())
        dialog.imported.connect(lambda names: (self.refresh(), self.select_job(names[0]) if names else None))
        dialog.finished.connect(dialog.deleteLater)
        self.import_dialog = dialog
        dialog.open()
        return dialog

    def delete_job(self) -> None:
        name = self.selected_job()
        if not name or not self.confirm(self, "Delete job", f"Delete job {name}? Its run history stays."):
            return
        try:
            self.engine.catalog.remove_job(name)
        except LabDeckError as exc:
            self.actions.error.emit(str(exc))
        self.refresh()
