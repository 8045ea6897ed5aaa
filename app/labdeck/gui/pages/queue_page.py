"""Queue page: the runs waiting for room or running as workflows and arrays, in the order they
get it, with why each waits ("needs 2 GPUs; none free"); move one up or down or give it a
priority; cancel it. Below, the selected (or opened) planned run: a workflow as a graph of its
steps, an array as a progress bar; both with a table of their task runs."""

from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import LabDeckError
from ...core.events import StepChanged
from ...engine.api import EngineApi
from ...store import run_queue, run_waits
from ..engine_calls import call_engine
from ..status_style import status_icon
from ..widgets.array_panel import ArrayPanel
from ..widgets.context_menu import button_entries, install_menu
from ..widgets.flow_layout import FlowLayout
from ..widgets.page_parts import add_buttons, read_only_table
from ..widgets.workflow_graph import WorkflowGraph

COLUMNS = ["#", "Run", "Job", "Priority", "Status", "Progress", "Waiting for"]


class QueuePage(QWidget):
    openRun = Signal(int)
    error = Signal(str)

    def __init__(self, engine: EngineApi, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.entries: list[dict] = []
        self.detail_run_id: int | None = None
        self._announced: dict[int, dict[str, str]] = {}  # run id -> step -> state, from StepChanged
        self._states_lock = threading.Lock()
        self._unsubscribe = None
        self.table = read_only_table(COLUMNS)
        self.table.itemSelectionChanged.connect(self._selected)
        bar = FlowLayout()  # wraps on a narrow window
        self.priority = QSpinBox()
        self.priority.setRange(-1000, 1000)
        self.priority.setToolTip("Higher priorities get room first")
        self.buttons = add_buttons(bar, [
            ("up", "Move up", "One place earlier in the queue", lambda: self._move("up")),
            ("down", "Move down", "One place later in the queue", lambda: self._move("down")),
        ])
        priority_label = QLabel("Priority of the selected run:")
        priority_label.setBuddy(self.priority)
        bar.addWidget(priority_label)
        bar.addWidget(self.priority)
        self.buttons |= add_buttons(bar, [
            ("priority", "Set priority", "Give the selected run this priority", self._set_priority),
            ("cancel", "Cancel run", "Cancel the selected run (and its running tasks)", self._cancel),
        ])
        self.rerun_button = add_buttons(bar, [
            ("rerun", "Re-run failed", "Run the failed items of the run shown below again (a workflow: all of it)",
             self._rerun)])["rerun"]
        self.rerun_button.setEnabled(False)
        bar.addStretch(1)

        self.title = QLabel("Select a run to see its steps or items")
        self.graph = WorkflowGraph()
        self.graph_area = QScrollArea()
        self.graph_area.setWidget(self.graph)
        self.graph_area.setWidgetResizable(False)
        self.array = ArrayPanel()
        self.array.openTaskRun.connect(self.openRun)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.title)
        dl.addWidget(self.graph_area, 1)
        dl.addWidget(self.array, 2)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(bar)
        tl.addWidget(self.table, 1)
        self.waits = QLabel()  # runs that start when another run ends (run --after): not in the line above
        self.waits.setTextFormat(Qt.TextFormat.RichText)
        self.waits.setWordWrap(True)
        self.waits.hide()
        tl.addWidget(self.waits)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(detail)
        install_menu(self.table, lambda: button_entries(self.buttons, ["up", "down", "priority", "cancel"])
                     + [None] + button_entries({"rerun": self.rerun_button}, ["rerun"]))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Queue</h2>"))
        layout.addWidget(split)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self._refresh_if_visible)
        self._update_buttons()

    def attach(self, bridge) -> None:
        bridge.changed.connect(lambda: self.timer.start() if not self.timer.isActive() else None)
        # Step states as the engine announces them (the engine may run in another process, so
        # this is the only way to see "waiting" and "skipped" before the run ends).
        self._unsubscribe = self.engine.bus.subscribe(self._on_engine_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_engine_event(self, event) -> None:  # an engine thread: only record it
        if isinstance(event, StepChanged):
            with self._states_lock:
                self._announced.setdefault(event.run_id, {})[event.step] = event.state

    # ---- showing ----------------------------------------------------------------------------

    def _refresh_if_visible(self) -> None:
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        self.entries = run_queue.entries(self.engine.catalog)
        selected = self.selected_run_id()
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            progress = run_queue.describe_progress(run_queue.progress(self.engine.catalog, e["run_id"]))
            cells = [e["position"], e["run_id"], e["job_name"], e["priority"], e["status"], progress,
                     e["reason"] or ("—" if e["status"] == "running" else "room on a node")]
            for column, value in enumerate(cells):
                item = QTableWidgetItem(str(value))
                if column == 4:
                    item.setIcon(status_icon(e["status"]))
                self.table.setItem(row, column, item)
            if e["run_id"] == selected:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        waits = run_waits.waiting(self.engine.catalog)
        self.waits.setText("<b>Waiting for other runs</b><br>" + "<br>".join(
            f"{html.escape(w.job_name)} — {w.reason}" for w in waits))
        self.waits.setVisible(bool(waits))
        self._update_buttons()
        self._show_detail()

    def show_run(self, run_id: int) -> None:
        """Show a planned run below the queue (it may have ended and left the queue)."""
        self.detail_run_id = run_id
        self.refresh()

    def selected_run_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.entries):
            return None
        return self.entries[rows[0].row()]["run_id"]

    def select_run(self, run_id: int) -> None:
        for row, e in enumerate(self.entries):
            if e["run_id"] == run_id:
                self.table.selectRow(row)

    def _selected(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            self.detail_run_id = run_id
            entry = next(e for e in self.entries if e["run_id"] == run_id)
            self.priority.setValue(entry["priority"])
        self._update_buttons()
        self._show_detail()

    def _update_buttons(self) -> None:
        chosen = self.selected_run_id() is not None
        for button in self.buttons.values():
            button.setEnabled(chosen)

    def _show_detail(self) -> None:
        run_id = self.detail_run_id
        if run_id is None:
            return
        try:
            run = self.engine.catalog.get_run(run_id)
            job = self.engine.catalog.get_job(run.job_name)
        except LabDeckError as exc:
            self.title.setText(str(exc))
            return
        progress = run_queue.progress(self.engine.catalog, run_id)
        tasks = run_queue.task_runs(self.engine.catalog, run_id)
        is_array = job.plan.array is not None
        self.title.setText(f"Run {run.id} of {run.job_name}: {run.status}"
                           + (f" — {run.note}" if run.note and run.status.is_final else ""))
        self.graph_area.setVisible(not is_array)
        self.array.bar.setVisible(is_array)
        if is_array:
            self.array.show_progress(progress)
        else:
            from ...engine.workflow import single_step
            steps = job.plan.workflow or single_step(job)
            if self.graph.steps != steps:
                self.graph.set_workflow(steps, job.plan.on_failure)
                self.graph.resize(self.graph.sizeHint())
                self.graph_area.setMinimumHeight(min(self.graph.sizeHint().height() + 8, 420))
            names = [s.name for s in steps] + ([job.plan.on_failure.name] if job.plan.on_failure else [])
            states = run_queue.step_states(self.engine.catalog, run_id, names)
            with self._states_lock:
                announced = dict(self._announced.get(run_id, {}))
            for name, state in announced.items():  # what the engine said wins, unless the record is final
                if name in states and states[name] in ("pending", "skipped", "running"):
                    states[name] = state
            self.graph.set_states(states)
        self.array.show_items(tasks)
        self.rerun_button.setEnabled(run.status.is_final and run.status != "succeeded")

    # ---- actions ------------------------------------------------------------------------------

    def _move(self, direction: str) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            self._act(lambda: run_queue.move(self.engine.catalog, run_id, direction))

    def _set_priority(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:
            self._act(lambda: run_queue.set_priority(self.engine.catalog, run_id, self.priority.value()))

    def _cancel(self) -> None:
        run_id = self.selected_run_id()
        if run_id is not None:  # the engine's calls run off the GUI thread, failures go to the banner
            call_engine(lambda: self.engine.cancel(run_id), lambda _: self.refresh(), self.error.emit,
                        f"Cannot cancel run #{run_id}: ")

    def _rerun(self) -> None:
        run_id = self.detail_run_id
        if run_id is None:
            return
        call_engine(lambda: self.engine.rerun_failed(run_id), lambda run: self.show_run(run.id), self.error.emit,
                    f"Cannot re-run the failed items of run #{run_id}: ")

    def _act(self, action) -> None:
        try:
            action()
        except LabDeckError as exc:
            self.error.emit(str(exc))
        self.refresh()
