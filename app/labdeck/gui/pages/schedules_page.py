"""Schedules page: every schedule (job, kind and expression, zone, next fire, enabled, catch-up,
last result including missed fires) with Add, Edit, Remove, Enable and Disable; a "Pause all
scheduling" switch; who fires the schedules of this catalog (this app, another LabDeck process,
or nobody); and the upcoming runs of the next 24 hours grouped by hour.

Refreshed on a QTimer while visible. A refresh is two catalog queries plus trigger arithmetic
with bounded fire counts — no node or network work on the GUI thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QSplitter,
    QStyle,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import LabDeckError
from ...core.schedules import Schedule, ScheduleKind, parse_at, parse_tz
from ...engine.api import EngineApi
from ...store.queries import last_results
from ...store.schedules import ScheduleStore
from ..actions import ask_yes_no
from ..dialogs.schedule_dialog import WARN_COLOR, ScheduleDialog
from ..dialogs.taskscheduler_dialog import TaskSchedulerImportDialog
from ..engine_calls import call_engine
from ..scheduling import next_fire_text, scheduler_state, start_scheduling
from ..status_style import dot_icon, fmt_ago, is_dark, status_color, status_icon, status_label
from ..widgets.flow_layout import FlowLayout
from ..widgets.page_parts import add_buttons, read_only_table
from ..widgets.upcoming_runs import UpcomingRuns

COLUMNS = ["Job", "Schedule", "Zone", "Next fire", "Enabled", "Catch-up", "Last result"]
ALL = "(all jobs)"
REFRESH_MS = 5000
ID_ROLE = Qt.ItemDataRole.UserRole
MISSED_WINDOW_S = 24 * 3600


class SchedulesPage(QWidget):
    stateChanged = Signal(str, str)     # state, text (for the status bar)

    def __init__(self, engine: EngineApi, parent: QWidget | None = None, now=None):
        super().__init__(parent)
        self.engine = engine
        self.store = ScheduleStore(engine.catalog)
        self.confirm = ask_yes_no
        self.now = now or (lambda: datetime.now(UTC))   # injectable clock for tests
        self.dialog: ScheduleDialog | None = None
        self.import_dialog: TaskSchedulerImportDialog | None = None
        self.state = ("", "")
        self._state_busy = False   # a scheduler-state question is on its way (update_state_later)
        self.start_error: str | None = None
        self._schedules: list[Schedule] = []

        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.pause = QCheckBox("Pause all scheduling")
        self.pause.setToolTip("While paused nothing fires; resuming counts fires from then on (the paused time "
                              "is not reported as missed)")
        self.pause.clicked.connect(self.set_paused)
        self.job_filter = QComboBox()
        self.job_filter.setMinimumWidth(160)
        self.job_filter.currentTextChanged.connect(lambda _t: self.refresh())

        bar = FlowLayout()  # wraps on a narrow window
        bar.addWidget(QLabel("Job"))
        bar.addWidget(self.job_filter)
        self.buttons = add_buttons(bar, (
                ("add", "Add…", "Add a schedule (to the job chosen on the left, if any)", self.add_schedule),
                ("edit", "Edit…", "Change the selected schedule", self.edit_schedule),
                ("remove", "Remove", "Remove the selected schedule (its run history stays)", self.remove_schedule),
                ("enable", "Enable", "Switch the selected schedule on (fires count from now)",
                 lambda: self.set_enabled(True)),
                ("disable", "Disable", "Switch the selected schedule off", lambda: self.set_enabled(False)),
                ("import", "Import from Task Scheduler…", "Windows Task Scheduler tasks (schtasks /query /xml) as "
                 "jobs with their schedules", self.import_tasks)))
        bar.addStretch(1)
        bar.addWidget(self.pause)

        self.table = read_only_table(COLUMNS)
        self.table.doubleClicked.connect(lambda _i: self.edit_schedule())
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.timeline = UpcomingRuns()
        self.timeline_title = QLabel("<b>Upcoming runs</b> — the next 24 hours, grouped by hour")
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 6, 0, 0)
        ll.addWidget(self.timeline_title)
        ll.addWidget(self.timeline, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Schedules</h2>"))
        layout.addWidget(self.state_label)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self._update_buttons()

    # ---- scheduler ------------------------------------------------------------------------------

    def start_scheduling(self) -> str | None:
        """Fire schedules from this app; if another LabDeck process already does, show that instead."""
        self.start_error = start_scheduling(self.engine)
        self.update_state()
        return self.start_error

    def start_scheduling_in_background(self) -> None:
        """start_scheduling off the GUI thread (the app's start): the window is up while the
        engine takes over; its answer, or why there is none, shows as the state."""
        def done(error: str | None) -> None:
            self.start_error = error
            self.update_state_later()
        call_engine(lambda: start_scheduling(self.engine), done, done)

    def update_state(self) -> None:
        self._show_state(scheduler_state(self.engine))

    def update_state_later(self) -> None:
        """update_state off the GUI thread: who schedules is asked of the engine, a round trip to
        the engine process that a busy engine (nodes streaming output) answers in tens of ms —
        the periodic tick would stall the window for as long."""
        if self._state_busy:
            return
        self._state_busy = True

        def done(result) -> None:
            self._state_busy = False
            self._show_state(result)

        def failed(why: str) -> None:  # the engine did not answer: the window says so, not the old state
            self._state_busy = False
            self._show_state(("unknown", f"Scheduling: unknown — {why}"))

        call_engine(lambda: scheduler_state(self.engine), done, failed,
                    "LabDeck's engine did not say who schedules: ")

    def _show_state(self, state_text: tuple[str, str]) -> None:
        state, text = state_text
        color = {"here": "#2e7d32", "paused": "#e65100", "other": "#1565c0", "none": "#c62828",
                 "unknown": "#757575"}[state]
        self.state_label.setText(f"<span style='color:{color}'>●</span> {text}")
        self.state_label.setToolTip(self.start_error or "")
        if (state, text) != self.state:
            self.state = (state, text)
            self.stateChanged.emit(state, text)

    # ---- refresh ----------------------------------------------------------------------------------

    def _tick(self) -> None:
        self.update_state_later()
        if self.isVisible():
            self.refresh(with_state=False)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self, with_state: bool = True) -> None:
        current = self.selected_id()
        now = self.now()
        paused = self.store.paused()
        self.pause.setChecked(paused)
        self._fill_jobs()
        job = self.filter_job()
        schedules = self.store.list(job)
        self._schedules = schedules
        last = last_results(self.engine.catalog, now.timestamp() - MISSED_WINDOW_S)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(schedules))
        for row, s in enumerate(schedules):
            self._fill_row(row, s, paused, now, last.get(s.id))
        if current is not None:
            self.select_schedule(current)
        self._update_buttons()
        summary = self.timeline.fill(self.store.list() if job else schedules, paused, now)
        self.timeline_title.setText(
            f"<b>Upcoming runs</b> — the next 24 hours, grouped by hour (local time): {summary}")
        if with_state:
            self.update_state_later()  # an engine question: never on the GUI thread

    def _fill_jobs(self) -> None:
        names = [j.name for j in self.engine.catalog.list_jobs()]
        current = self.job_filter.currentText() or ALL
        if [self.job_filter.itemText(i) for i in range(self.job_filter.count())] != [ALL] + names:
            self.job_filter.blockSignals(True)
            self.job_filter.clear()
            self.job_filter.addItems([ALL] + names)
            self.job_filter.setCurrentText(current if current in names else ALL)
            self.job_filter.blockSignals(False)

    def filter_job(self) -> str | None:
        text = self.job_filter.currentText()
        return None if text in ("", ALL) else text

    def _fill_row(self, row: int, s: Schedule, paused: bool, now: datetime, last: dict | None) -> None:
        if s.kind is ScheduleKind.CRON:
            what = f"cron  {s.expr}"
        elif s.kind is ScheduleKind.DATE:
            try:
                what = f"once at {parse_at(s.expr, s.tz).astimezone(parse_tz(s.tz)):%Y-%m-%d %H:%M:%S}"
            except LabDeckError:
                what = s.describe()
        else:
            what = s.describe()
        zone = s.tz if s.kind is not ScheduleKind.INTERVAL else "—"
        next_text, next_tip, flag = next_fire_text(s, paused, now)
        state = "on" if s.enabled else "off"
        catch = "run once" if str(s.catch_up) == "once" else "skip"
        if last:
            result = f"{status_label(last['status'])} · {fmt_ago(last['scheduled_for'] or last['started_at'])}"
            if last["missed_recent"]:
                result += f"  ({last['missed_recent']} missed in 24 h)"
        else:
            result = "not fired yet"
        cells = [s.job_name, what, zone, next_text, state, catch, result]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setData(ID_ROLE, s.id)
                item.setToolTip(f"schedule {s.id}")
            if col == 1 and s.kind is ScheduleKind.CRON:
                item.setFont(QFont("monospace"))
            if col == 3:
                item.setToolTip(next_tip)
                if flag:
                    item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
                    item.setForeground(QBrush(QColor(WARN_COLOR)))
            if col == 4:
                item.setIcon(dot_icon("#43a047" if s.enabled and not paused else
                                      "#fb8c00" if s.enabled else "#9e9e9e", 12))
                if s.enabled and paused:
                    item.setText("on (paused)")
            if col == 6 and last:
                item.setIcon(status_icon(last["status"]))
                item.setToolTip(f"run #{last['id']}" + (f": {last['note']}" if last["note"] else ""))
                if last["status"] in ("missed", "skipped"):
                    color = status_color(last["status"])
                    item.setForeground(QBrush(color if is_dark() else color.darker(150)))
            self.table.setItem(row, col, item)

    # ---- selection ----------------------------------------------------------------------------------

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(ID_ROLE) if rows else None

    def selected(self) -> Schedule | None:
        sid = self.selected_id()
        return next((s for s in self._schedules if s.id == sid), None)

    def select_schedule(self, schedule_id: int) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(ID_ROLE) == schedule_id:
                self.table.selectRow(row)
                return

    def row_of(self, schedule_id: int) -> int:
        return next(r for r in range(self.table.rowCount()) if self.table.item(r, 0).data(ID_ROLE) == schedule_id)

    def cell(self, schedule_id: int, column: str) -> str:
        return self.table.item(self.row_of(schedule_id), COLUMNS.index(column)).text()

    def _update_buttons(self) -> None:
        s = self.selected()
        for key in ("edit", "remove"):
            self.buttons[key].setEnabled(s is not None)
        self.buttons["enable"].setEnabled(s is not None and not s.enabled)
        self.buttons["disable"].setEnabled(s is not None and s.enabled)
        self.buttons["add"].setEnabled(self.job_filter.count() > 1)  # there is a job to schedule

    def show_job(self, job_name: str) -> None:
        """Show the schedules of one job; with none yet, open the editor for a new one."""
        self._fill_jobs()
        self.job_filter.setCurrentText(job_name)
        self.refresh()
        if self.table.rowCount() == 0:
            self.add_schedule()

    # ---- actions ------------------------------------------------------------------------------------

    def add_schedule(self) -> ScheduleDialog:
        return self._open(ScheduleDialog(self.engine, self.filter_job(), None, self))

    def edit_schedule(self) -> ScheduleDialog | None:
        sid = self.selected_id()
        if sid is None:
            return None
        try:
            schedule = self.store.get(sid)
        except LabDeckError:
            self.refresh()
            return None
        return self._open(ScheduleDialog(self.engine, None, schedule, self))

    def _open(self, dialog: ScheduleDialog) -> ScheduleDialog:
        dialog.saved.connect(lambda sid: (self.refresh(), self.select_schedule(sid)))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def import_tasks(self) -> TaskSchedulerImportDialog:
        dialog = TaskSchedulerImportDialog(self.engine, self)
        dialog.imported.connect(lambda _names: self.refresh())
        dialog.finished.connect(dialog.deleteLater)
        self.import_dialog = dialog
        dialog.open()
        return dialog

    def remove_schedule(self) -> None:
        s = self.selected()
        if s is None or not self.confirm(self, "Remove schedule",
                                         f"Remove schedule {s.describe()} of job {s.job_name}? Its runs stay in "
                                         f"the history."):
            return
        try:
            self.store.remove(s.id)
        except LabDeckError:
            pass
        self.refresh()

    def set_enabled(self, enabled: bool) -> None:
        sid = self.selected_id()
        if sid is None:
            return
        try:
            self.store.set_enabled(sid, enabled)
        except LabDeckError:
            pass
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        self.store.set_paused(paused)
        self.refresh()
