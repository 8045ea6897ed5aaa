"""Run view: one run live — a node-by-status matrix (status, exit code, duration, message, and
per node the reported progress, lines so far and last line) that updates from the bridge
signals, the same run as a timeline, and the selected node's log following its tail. Cancel a
node, cancel the run, or re-run the nodes that did not succeed."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import NotFound
from ...core.models import NodeRun
from ...engine.api import EngineApi
from ...store.attempts import attempts_of_runs, run_chain
from ...store.log_progress import LogProgress
from ..actions import Actions
from ..status_style import fmt_time, status_label
from ..widgets.child_runs import ChildRuns
from ..widgets.context_menu import install_menu
from ..widgets.log_view import LogView
from ..widgets.node_run_matrix import (
    apply_progress,
    color_name,
    fill_row,
    node_matrix,
    progress_of,
    status_of,
    tick_durations,
)
from ..widgets.run_timeline import RunTimeline
from ..workers import run_async

TIMELINE_EVERY_TICKS = 3   # seconds between redraws of a running run's timeline


class RunView(QWidget):
    def __init__(self, engine: EngineApi, actions: Actions, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.actions = actions
        self.run_id: int | None = None
        self.node_runs: dict[str, NodeRun] = {}
        self._shown_rows: list[tuple] = []   # what each matrix row shows now (skip unchanged rows)
        self._header = ("", "")              # title and summary shown now
        self._selected: str | None = None    # the selected node, kept so output signals need no Qt call
        self._chain: tuple = (None, [])     # ((run id, "running"), its restart chain) read while it runs

        self.title = QLabel("<h2>Run</h2>")
        self.summary = QLabel("Start a job, or open a run from the history.")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)  # a long targets line must not set the window's minimum width
        self.cancel_run_button = QPushButton("Cancel run")
        self.cancel_run_button.setToolTip("Kill the run on every node (the whole process tree)")
        self.cancel_run_button.clicked.connect(self.cancel_run)
        self.cancel_node_button = QPushButton("Cancel node")
        self.cancel_node_button.setToolTip("Kill the run on the selected node only")
        self.cancel_node_button.clicked.connect(self.cancel_node)
        self.rerun_button = QPushButton("Re-run failed nodes")
        self.rerun_button.setToolTip("Start the same job with the same options on the nodes that did not succeed")
        self.rerun_button.clicked.connect(self.rerun_failed)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        for b in (self.cancel_node_button, self.cancel_run_button, self.rerun_button):
            bar.addWidget(b)

        self.matrix = node_matrix()
        self.progress = LogProgress()
        self._progress_busy = self._progress_again = False
        self.bridge = None   # the EngineBridge, when the main window has one (live_progress)
        self._ticks = 0
        self.timeline = RunTimeline()
        self.timeline.nodeClicked.connect(self.select_node)
        self.timeline.nodeRunClicked.connect(self.open_node_run)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.matrix, "Nodes")
        self.tabs.addTab(self.timeline, "Timeline")
        self.tabs.setTabToolTip(1,
                                "Each node's run as a bar on a time axis, coloured by status; click a bar for its log")
        self.tabs.currentChanged.connect(lambda _i: self._update_timeline())
        self.matrix.itemSelectionChanged.connect(self._node_selected)
        install_menu(self.matrix, lambda: [
            ("Open the log in another program", self.log.open_external, self.log.path is not None),
            None, (self.cancel_node_button.text(), self.cancel_node, self.cancel_node_button.isEnabled()),
            (self.cancel_run_button.text(), self.cancel_run, self.cancel_run_button.isEnabled()),
            (self.rerun_button.text(), self.rerun_failed, self.rerun_button.isEnabled())])

        self.log_title = QLabel()
        self.log = LogView()
        log_box = QWidget()
        lb = QVBoxLayout(log_box)
        lb.setContentsMargins(0, 0, 0, 0)
        lb.addWidget(self.log_title)
        lb.addWidget(self.log, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(log_box)
        split.setSizes([260, 440])

        self.children = ChildRuns()  # job references: the runs this run's job steps started, or its caller

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(bar)
        layout.addWidget(self.children)
        layout.addWidget(split, 1)
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self._tick)
        # Bridge events for this run are coalesced into one reload per interval: ten nodes
        # starting or finishing together cost one catalog read, not ten.
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(100)
        self._reload_timer.timeout.connect(self.reload)
        # the timeline is drawn in its own turn of the event loop, after the matrix: opening a run
        # while its nodes stream is then two short pauses, not one long one
        self._timeline_timer = QTimer(self)
        self._timeline_timer.setSingleShot(True)
        self._timeline_timer.setInterval(0)
        self._timeline_timer.timeout.connect(self._update_timeline)
        self._update_buttons()

    # ---- showing a run ------------------------------------------------------------------------

    def show_run(self, run_id: int) -> None:
        if run_id != self.run_id:
            self.log.search.clear()  # a search belongs to the run it was typed in
            self.progress = LogProgress()
        self.run_id = run_id
        self.matrix.setRowCount(0)
        self.node_runs.clear()
        self._shown_rows = []
        self.reload()
        if self.matrix.rowCount():
            self.matrix.selectRow(0)

    def reload(self) -> None:
        if self.run_id is None:
            return
        try:
            run = self.engine.catalog.get_run(self.run_id)
        except NotFound:
            return
        self._reload_timer.stop()
        self.run = run
        node_runs = self.engine.catalog.node_runs(self.run_id)
        self.node_runs = {nr.node_name: nr for nr in node_runs}
        if self.matrix.rowCount() != len(node_runs):
            self.matrix.setRowCount(len(node_runs))
            self._shown_rows = []
        for row, nr in enumerate(node_runs):
            fill_row(self.matrix, row, nr, self._shown_rows)
        self._update_progress()
        if self.tabs.currentWidget() is self.timeline:
            self._timeline_timer.start()
        counts: dict[str, int] = {}
        for nr in node_runs:
            counts[nr.status.value] = counts.get(nr.status.value, 0) + 1
        parts = " · ".join(f"<span style='color:{color_name(s)}'>■</span> {n} {status_label(s)}"
                           for s, n in sorted(counts.items()))
        header = (f"<h2>Run #{run.id} — {run.job_name}</h2>",
                  f"<b style='color:{color_name(run.status.value)}'>{status_label(run.status.value)}</b>"
                  f" · started {fmt_time(run.started_at)} · {run.trigger.value} · targets <code>{run.targets}</code>"
                  + (f" · <i>{html.escape(run.note)}</i>" if run.note else "") + f"<br>{parts}")
        self.children.show_run(self.engine.catalog, run)
        if header != self._header:  # rich-text labels re-parse and re-layout on every setText
            self._header = header
            self.title.setText(header[0])
            self.summary.setText(header[1])
        if run.status.value == "running":
            self.ticker.start()
        else:
            self.ticker.stop()
        self._update_buttons()

    def status_of(self, node: str) -> str | None:
        return status_of(self.matrix, node)

    def progress_of(self, node: str) -> tuple[str, str, str] | None:
        """(progress, lines, last line) as the matrix shows them for ``node``."""
        return progress_of(self.matrix, node)

    def select_node(self, node: str) -> None:
        for row in range(self.matrix.rowCount()):
            if self.matrix.item(row, 0).text() == node:
                self.matrix.selectRow(row)

    def selected_node(self) -> str | None:
        rows = self.matrix.selectionModel().selectedRows()
        return self.matrix.item(rows[0].row(), 0).text() if rows else None

    def _node_selected(self) -> None:
        node = self._selected = self.selected_node()
        nr = self.node_runs.get(node) if node else None
        if nr is None:
            self.log.set_path(None)
            self.log_title.setText("")
        elif self.log.path is None or str(self.log.path) != nr.log_path:
            self.log.set_path(nr.log_path)
            self.log_title.setText(f"<b>{node}</b> — <span style='color:gray'>{nr.log_path}</span>")
        self._update_buttons()

    def _tick(self) -> None:
        tick_durations(self.matrix, list(self.node_runs.values()))  # in matrix row order
        self._update_progress()
        self._ticks += 1
        if self._ticks % TIMELINE_EVERY_TICKS == 0:   # a growing bar: a redraw every few seconds is enough
            self._update_timeline()

    def open_node_run(self, run_id: int, node: str) -> None:
        """A bar of another run of this run's restart chain: show that run, with the node's log."""
        if run_id != self.run_id:
            self.show_run(run_id)
        self.select_node(node)

    def _update_timeline(self) -> None:
        run = getattr(self, "run", None)   # set by reload (not when the run could not be read)
        if self.tabs.currentWidget() is not self.timeline or run is None or run.id != self.run_id:
            return
        catalog = self.engine.catalog
        running = run.status.value == "running"
        key = (self.run_id, "running") if running else None
        if key is None or self._chain[0] != key:
            # while a run goes, the rest of its chain cannot change (a restart starts once its run
            # ended): read it once, not on every redraw of the growing bars
            chain = run_chain(catalog, self.run_id)
            self._chain = (key, [(run, None if run.id == self.run_id else catalog.node_runs(run.id)) for run in chain])
        node_runs = list(self.node_runs.values())
        chain = [(run, node_runs if others is None else others) for run, others in self._chain[1]]
        retried = [run.id for run, nrs in chain if any(nr.attempt > 1 for nr in nrs)]
        attempts = attempts_of_runs(catalog, retried) if retried else {}
        if len(chain) > 1:
            self.timeline.set_chain(chain, attempts, shown=self.run_id)
        else:
            self.timeline.set_node_runs(node_runs, attempts)

    def _update_progress(self) -> None:
        """Lines so far, the last line and the reported percentage of each node run, read from
        the new end of its log on a worker thread (ten nodes streaming 10 MB/s each would
        otherwise cost the GUI thread tens of milliseconds a second); one read at a time."""
        if self._progress_busy:
            self._progress_again = True
            return
        live = {}
        if self.bridge is not None:   # output this window saw from the start: counted as it streamed
            for nr in self.node_runs.values():
                snapshot = self.bridge.live_progress(nr.id)
                if snapshot is not None:
                    live[nr.node_name] = snapshot
        if live:
            apply_progress(self.matrix, list(self.node_runs.values()), live)
        logs = [(nr.node_name, nr.log_path) for nr in self.node_runs.values()
                if nr.log_path and nr.node_name not in live]
        if not logs:
            return
        tracker = self.progress
        self._progress_busy, self._progress_again = True, False

        def read() -> dict[str, tuple[int, str, float | None]]:
            result = {}
            for node, path in logs:
                p = tracker.read(path)
                result[node] = (p.lines, p.last_line, p.percent)
            return result

        def done(result) -> None:
            self._progress_busy = False
            if tracker is self.progress:   # still the same run
                apply_progress(self.matrix, list(self.node_runs.values()), result)
            if self._progress_again:
                self._update_progress()

        def failed(_exc) -> None:
            self._progress_busy = False

        run_async(read, done, failed)

    def _update_buttons(self) -> None:
        running = self.run_id is not None and getattr(self, "run",
                                                      None) is not None and self.run.status.value == "running"
        node = self._selected
        nr = self.node_runs.get(node) if node else None
        self.cancel_run_button.setEnabled(running)
        self.cancel_node_button.setEnabled(bool(running and nr and not nr.status.is_final))
        bad = any(n.status.value != "succeeded" for n in self.node_runs.values())
        self.rerun_button.setEnabled(bool(self.run_id is not None and not running and bad))

    # ---- bridge signals ----------------------------------------------------------------------------

    def on_event(self, run_id: int, *_rest) -> None:
        # a running parent of job-reference runs (it has no nodes of its own) follows its
        # children's events too: a child that just started is not known here yet
        run = getattr(self, "run", None)
        ours = run_id == self.run_id or (run is not None and run.id == self.run_id and not self.node_runs
                                         and run.status.value == "running")
        if ours and not self._reload_timer.isActive():
            self._reload_timer.start()

    def on_output_arrived(self, sizes: dict) -> None:
        """The bridge's per-flush summary {(run_id, node_run_id, node): characters}: pure Python,
        no Qt call, no catalog read — the log view reads the file itself."""
        if self.run_id is None or self._selected is None:
            return
        for run_id, _node_run_id, node in sizes:
            if run_id == self.run_id and node == self._selected:
                self.log.nudge()
                return

    # ---- actions ---------------------------------------------------------------------------------------

    def cancel_run(self) -> None:
        if self.run_id is not None:
            self.actions.cancel(self.run_id)

    def cancel_node(self) -> None:
        node = self.selected_node()
        if self.run_id is not None and node:
            self.actions.cancel(self.run_id, node)

    def rerun_failed(self) -> None:
        if self.run_id is not None:
            self.actions.rerun_failed(self.run_id)
