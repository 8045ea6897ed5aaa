"""Nodes page: every machine at a glance — state, CPU/memory/disk/GPU use as bars with a
sparkline of the last hour, last runs — a detail panel for the selected node (its day as a
chart, its recent runs), and the actions on them: add, edit, remove, test, run a job or a
command on the selected nodes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from ...engine.api import EngineApi
from ...store import node_down, queries, trends
from ...store.metrics import MetricStore
from ..actions import Actions, ask_yes_no
from ..dialogs.import_dialog import ImportNodesDialog
from ..dialogs.node_dialog import NodeDialog
from ..dialogs.run_dialogs import RunOnNodesDialog
from ..engine_calls import call_engine
from ..models.node_model import COLUMNS, METRIC_COLUMNS, METRIC_ROLE, RECENT_COLUMN, RECENT_ROLE, NodeTableModel
from ..status_style import plural
from ..widgets.context_menu import button_entries, install_menu
from ..widgets.empty_state import EmptyState
from ..widgets.flow_layout import FlowLayout
from ..widgets.node_panel import NodePanel
from ..widgets.page_parts import add_buttons
from ..widgets.recent_runs import RecentRunsDelegate
from ..widgets.resource_gauge import ResourceGaugeDelegate
from ..workers import run_async

NARROW_WIDTH = 1100   # px of the page below which the grid drops its OS and transport columns


class NodesPage(QWidget):
    nodeTested = Signal(str, bool, str)  # node, ok, message
    filesDropped = Signal(object, str)   # local paths, target spec (node names)
    browseRequested = Signal(str)        # node name

    def __init__(self, engine: EngineApi, actions: Actions, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.actions = actions
        self.confirm = ask_yes_no          # (parent, title, text) -> bool; tests may replace it
        self.dialog = None                 # the node / run dialog currently open
        self.model = NodeTableModel(self)

        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setItemDelegateForColumn(RECENT_COLUMN, RecentRunsDelegate(RECENT_ROLE, 8, self.view))
        gauges = ResourceGaugeDelegate(METRIC_ROLE, self.view)
        for col in METRIC_COLUMNS:
            self.view.setItemDelegateForColumn(col, gauges)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.view.doubleClicked.connect(lambda _i: self.edit_node())
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.view.selectionModel().selectionChanged.connect(self._show_detail)
        self.metrics = MetricStore(engine.catalog)
        self.panel = NodePanel()
        self.openRun = self.panel.openRun
        self.view.setAcceptDrops(True)
        self.view.viewport().setAcceptDrops(True)
        self.view.viewport().installEventFilter(self)
        self.view.setToolTip("Drop files here onto a node (or onto the selected nodes) to upload them")

        bar = FlowLayout()  # wraps on a narrow window
        self.buttons = add_buttons(bar, (
                ("add", "Add…", "Add a machine (SSH or this computer)", self.add_node),
                ("import", "Import…", "Add many machines from ~/.ssh/config, an Ansible inventory or a CSV file",
                 self.import_nodes),
                ("edit", "Edit…", "Change the selected node's connection or tags", self.edit_node),
                ("remove", "Remove", "Remove the selected nodes from LabDeck", self.remove_nodes),
                ("test", "Test", "Connect to the selected nodes and refresh CPU, memory and disk", self.test_nodes),
                ("job", "Run job on selected…", "Run one of your jobs on the selected nodes only",
                 self.run_job_on_selected),
                ("command", "Run command on selected…", "Run a one-off shell command on the selected nodes",
                 self.run_command_on_selected),
                ("files", "Files…", "Browse the selected node's files: download, upload, delete",
                 lambda: self.browseRequested.emit(self.selected_names()[0]))))
        bar.addStretch(1)
        self.summary = QLabel()
        bar.addWidget(self.summary)

        install_menu(self.view, lambda: button_entries(self.buttons, ["edit", "test", "files"]) + [None]
                     + button_entries(self.buttons, ["job", "command"]) + [None]
                     + button_entries(self.buttons, ["remove"]))
        layout = QVBoxLayout(self)
        title = QLabel("<h2>Nodes</h2>")
        layout.addWidget(title)
        layout.addLayout(bar)
        self.empty = EmptyState(
            "Add your first node",
            "LabDeck already knows this computer. Add the lab's machines (SSH for Linux, WinRM for Windows), "
            "then run a job on all of them at once.",
            [("Add a node…", self.add_node), ("Test this computer", self._test_all)])
        layout.addWidget(self.empty)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)
        self._update_buttons()

    # ---- data -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        names = self.selected_names()
        catalog = self.engine.catalog
        nodes = catalog.list_nodes()
        recent = queries.recent_statuses(catalog, 8)
        lost = [name for name, runs in recent.items() if runs and runs[-1][1] == "unreachable"]
        self.model.set_data(nodes, recent, queries.busy_nodes(catalog), self.metrics.histories(3600),
                            trends.last_unreachable(catalog, lost), node_down.down_nodes(catalog))
        self.select_names(names)
        self.empty.setVisible(len(nodes) <= 1 and all(n.transport == "local" for n in nodes))
        self._show_detail()
        n = self.model.rowCount()
        states = [self.model.state_of(self.model.node_at(r).name) for r in range(n)]
        self.summary.setText(f"{plural(n, 'node')} · {states.count('busy')} busy · "
                             f"{states.count('unreachable')} unreachable")
        self._update_buttons()

    def selected_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.node_at(r).name for r in rows]

    def select_names(self, names: list[str]) -> None:
        sel = self.view.selectionModel()
        sel.clearSelection()
        for row in range(self.model.rowCount()):
            if self.model.node_at(row).name in names:
                sel.select(self.model.index(row, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def _update_buttons(self, *_args) -> None:
        count = len(self.view.selectionModel().selectedRows())
        for key in ("remove", "test", "job", "command"):
            self.buttons[key].setEnabled(count > 0)
        self.buttons["edit"].setEnabled(count == 1)
        self.buttons["files"].setEnabled(count == 1)

    # ---- dropping files onto nodes -------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if event.mimeData().hasUrls() and self.drop_targets(event.position().toPoint()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and event.mimeData().hasUrls():
            paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
            names = self.drop_targets(event.position().toPoint())
            if paths and names:
                event.acceptProposedAction()
                self.filesDropped.emit(paths, ",".join(names))
                return True
        return super().eventFilter(obj, event)

    def drop_targets(self, pos) -> list[str]:
        """The node under the cursor, or all selected nodes when it is one of them."""
        index = self.view.indexAt(pos)
        if not index.isValid():
            return []
        name = self.model.node_at(index.row()).name
        selected = self.selected_names()
        return selected if name in selected else [name]

    # ---- actions ------------------------------------------------------------------------------------

    def add_node(self) -> NodeDialog:
        return self._open_node_dialog(None)

    def import_nodes(self) -> ImportNodesDialog:
        dialog = ImportNodesDialog(self.engine, self)
        dialog.imported.connect(lambda _names: self.refresh())
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def edit_node(self) -> NodeDialog | None:
        names = self.selected_names()
        if len(names) != 1:
            return None
        return self._open_node_dialog(self.engine.catalog.get_node(names[0]))

    def _open_node_dialog(self, node) -> NodeDialog:
        dialog = NodeDialog(self.engine, node, self)
        dialog.saved.connect(lambda _name: self.refresh())
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def remove_nodes(self) -> None:
        names = self.selected_names()
        if not names or not self.confirm(self, "Remove nodes",
                                         f"Remove {', '.join(names)} from LabDeck?\n"
                                         "Their run history stays; saved passwords are deleted."):
            return
        for name in names:  # off the GUI thread: the engine may be busy; a failure goes to the banner
            call_engine(lambda n=name: self.engine.nodes.remove(n), lambda _: self.refresh(), self.actions.error.emit,
                        f"Cannot remove {name}: ")

    def test_nodes(self) -> None:
        for name in self.selected_names():
            self.actions.info.emit(f"Testing {name}…")
            run_async(lambda n=name: self.engine.test_node(n),
                      lambda check, n=name: self._tested(n, True, "reachable"),
                      lambda exc, n=name: self._tested(n, False, str(exc)))

    def _tested(self, name: str, ok: bool, message: str) -> None:
        self.refresh()
        if not ok:
            self.actions.error.emit(message)
        else:
            self.actions.info.emit(f"{name} answered")
        self.nodeTested.emit(name, ok, message)

    def run_job_on_selected(self) -> RunOnNodesDialog | None:
        return self._run_dialog("job")

    def run_command_on_selected(self) -> RunOnNodesDialog | None:
        return self._run_dialog("command")

    def _run_dialog(self, mode: str) -> RunOnNodesDialog | None:
        names = self.selected_names()
        if not names:
            return None
        jobs = [j.name for j in self.engine.catalog.list_jobs()]
        dialog = RunOnNodesDialog(jobs, names, mode, self)
        targets = ",".join(names)

        def go() -> None:
            if mode == "job":
                self.actions.launch_job(self, dialog.job.currentText(), targets)
            elif dialog.command.text().strip():
                self.actions.run_command(dialog.command.text().strip(), targets, dialog.timeout.value() or None)

        dialog.accepted.connect(go)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        """On a narrow window the OS and transport columns give way to the resource bars
        (their text stays in the node's tooltip and in Edit)."""
        super().resizeEvent(event)
        narrow = self.width() < NARROW_WIDTH
        for col in (COLUMNS.index("OS"), COLUMNS.index("Transport")):
            self.view.setColumnHidden(col, narrow)

    def _show_detail(self, *_args) -> None:
        names = self.selected_names()
        name = names[0] if len(names) == 1 else None
        if name is None:
            return self.panel.show_node(None, [], [])
        down = self.model.down_text(name)
        self.panel.show_node(name, self.metrics.history(name), trends.node_recent_runs(self.engine.catalog, name), down)

    def _test_all(self) -> None:
        self.view.selectAll()
        self.test_nodes()

    def on_node_seen(self, node: str, reachable: bool, message: str) -> None:
        self.model.note_seen(node, reachable, message)
