"""ImportNodesDialog: nodes from an ssh config, an Ansible inventory or a CSV file.

The file is read at once into a preview table with a box to tick per node (existing names
unticked unless "Replace" is on). "Check nodes" fetches each SSH node's host key on a worker
thread and shows its fingerprint in the table; "Import" then logs in to every ticked node
with exactly that key and imports all of them or none. Errors (a line the file cannot be
read at, a node that does not answer) are shown inside the dialog, which stays open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import LabDeckError
from ...core.models import Transport
from ...importers import FORMATS, parse_inventory
from ..engine_calls import call_engine
from .node_dialog import ERR_STYLE, INFO_STYLE, OK_STYLE
from .preview_state import PreviewImportDialog

COLUMNS = ("Import", "Name", "Transport", "Address", "User", "Tags", "Via", "Status", "Host key", "Notes")
KEY_COLUMN = COLUMNS.index("Host key")
STATUS_COLUMN = COLUMNS.index("Status")


class ImportNodesDialog(PreviewImportDialog):
    checkFinished = Signal(bool, str)   # ok, message shown

    def __init__(self, engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.candidates: list = []
        self.existing: set[str] = set()
        self.presented: dict[str, tuple[str, str, str]] = {}
        self.ticks: dict[str, bool] = {}    # what the user ticked or unticked, by node name
        self.busy = False
        self.setWindowTitle("Import nodes")
        screen = self.screen().availableGeometry() if self.screen() else None
        self.resize(min(1100, screen.width() - 40) if screen else 1100, min(560,
                                                                            screen.height() - 60) if screen else 560)

        self.path = QLineEdit()
        self.path.setPlaceholderText("~/.ssh/config, an Ansible inventory (INI or YAML), or a CSV file")
        self.path.returnPressed.connect(self.load)  # not editingFinished: that also fires when the dialog closes
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.format = QComboBox()
        self.format.addItem("Format from the file", None)
        for fmt in FORMATS:
            self.format.addItem(fmt, fmt)
        self.format.currentIndexChanged.connect(lambda _i: self.load())
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("File:"))
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        file_row.addWidget(self.format)

        self.tags = QLineEdit()
        self.tags.setPlaceholderText("extra tags for every node, e.g. lab, imported")
        self.replace = QCheckBox("Replace nodes that already exist")
        self.replace.toggled.connect(self._replace_toggled)
        self.no_check = QCheckBox("Import without connecting")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("password for these nodes (optional; kept in the keyring)")
        options = QHBoxLayout()
        options.addWidget(QLabel("Tags:"))
        options.addWidget(self.tags, 1)
        options.addWidget(self.password, 1)
        options.addWidget(self.replace)
        options.addWidget(self.no_check)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemChanged.connect(self._item_changed)

        self.message = self._message_line()

        self.check_button = QPushButton("Check nodes")
        self.check_button.setToolTip("Connect to the ticked SSH nodes and show the host key each presents")
        self.check_button.clicked.connect(self.check)
        self.import_button = QPushButton("Import")
        self.import_button.setToolTip("Log in to every ticked node with the host key shown, then import them all "
                                      "(or none, if one fails)")
        self.import_button.clicked.connect(self.run_import)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        self.summary = QLabel()
        buttons.addWidget(self.summary, 1)
        for button in (self.check_button, self.import_button, close):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addLayout(options)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.no_check.toggled.connect(lambda _on: self._update_buttons())
        self._update_buttons()

    # ---- reading the file ----------------------------------------------------------------------

    def _browse(self) -> None:
        start = str(Path.home() / ".ssh")
        path, _ = QFileDialog.getOpenFileName(self, "Inventory to import", start,
                                              "Inventories (config *.ini *.yml *.yaml *.csv hosts);;All files (*)")
        if path:
            self.path.setText(path)
            self.load()

    def load(self) -> None:
        self.presented = {}
        self.ticks = {}
        self.candidates = []
        text = self.path.text().strip()
        if text:
            try:
                self.candidates = parse_inventory(text, self.format.currentData())
            except LabDeckError as exc:
                self._show(str(exc), ERR_STYLE)
            else:
                self._show(f"{len(self.candidates)} nodes in the file. Untick the ones to leave out, then "
                           "Check nodes to see their host keys.", INFO_STYLE)
        self.existing = {n.name for n in self.engine.catalog.list_nodes()}
        self._fill()

    def _fill(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.candidates))
        for row, candidate in enumerate(self.candidates):
            node = candidate.node
            exists = node.name in self.existing
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            ticked = self.ticks.get(node.name, not exists or self.replace.isChecked())
            tick.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, tick)
            address = f"{node.host}:{node.effective_port}" if node.host else "-"
            status = ("exists: replace" if self.replace.isChecked() else "exists: kept") if exists else "new"
            values = (node.name, str(node.transport), address, node.username or "-", ", ".join(node.tags) or "-",
                      ", ".join(candidate.via) or "-", status, self._key_text(node), "; ".join(candidate.notes))
            for column, value in enumerate(values, start=1):
                item = QTableWidgetItem(value)
                item.setToolTip(candidate.source if column == 1 else value)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        self._update_buttons()

    def _item_changed(self, item) -> None:
        if item.column() == 0 and item.row() < len(self.candidates):
            self.ticks[self.candidates[item.row()].node.name] = item.checkState() == Qt.CheckState.Checked
        self._update_buttons()

    def _replace_toggled(self, _on: bool) -> None:
        for name in self.existing:
            self.ticks.pop(name, None)
        self._fill()

    def _key_text(self, node) -> str:
        if node.transport is not Transport.SSH:
            return "(no host key)"
        found = self.presented.get(node.name)
        if found is None:
            return "not checked yet"
        return found if isinstance(found, str) else f"{found[0]} {found[2]}"

    # ---- checking and importing ---------------------------------------------------------------

    def ticked(self) -> list:
        return [c for row, c in enumerate(self.candidates)
                if self.table.item(row, 0) and self.table.item(row, 0).checkState() == Qt.CheckState.Checked]

    def set_ticked(self, names: list[str]) -> None:
        for row, candidate in enumerate(self.candidates):
            state = Qt.CheckState.Checked if candidate.node.name in names else Qt.CheckState.Unchecked
            self.table.item(row, 0).setCheckState(state)

    def _planner(self):
        """What to plan, read from the widgets here; the plan itself is the engine's, asked on a worker."""
        ticked, replace = self.ticked(), self.replace.isChecked()
        tags = [t.strip() for t in self.tags.text().replace(";", ",").split(",") if t.strip()]
        return lambda: self.engine.node_import.plan(ticked, tags, replace)

    def check(self) -> None:
        planner = self._planner()
        self._set_busy(True, "Connecting to the nodes to read their host keys…")
        call_engine(lambda: self.engine.node_import.presented_keys(planner()), self._checked,
                    lambda text: self._finish_check(False, text))

    def _checked(self, presented: dict) -> None:
        self.presented.update(presented)
        self._fill()
        failed = {name: why for name, why in presented.items() if isinstance(why, str)}
        if failed:
            self._finish_check(False, f"{len(failed)} nodes did not answer: " +
                               "; ".join(f"{n}: {w}" for n, w in failed.items()) +
                               ". Untick them, or import without connecting.")
        else:
            self._finish_check(True, "Compare the host keys in the table with the machines' own; Import trusts "
                                     "exactly these keys.")

    def _finish_check(self, ok: bool, message: str) -> None:
        self._set_busy(False)
        self._show(message, OK_STYLE if ok else ERR_STYLE)
        self.checkFinished.emit(ok, message)

    def run_import(self) -> None:
        check = not self.no_check.isChecked()
        planner, presented = self._planner(), dict(self.presented)
        secret = self.password.text() or None

        def plan_and_commit():
            plan = planner()
            confirmed = {}
            if check:
                confirmed = {c.node.name: presented[c.node.name][2] for c in plan.to_import
                             if isinstance(presented.get(c.node.name), tuple)}
            return self.engine.node_import.commit(plan, confirmed, presented, secret=secret, check=check)
        self._set_busy(True, f"Logging in to {len(self.ticked())} nodes…")
        call_engine(plan_and_commit, lambda result: self._finish_import(result, ""),
                    lambda text: self._finish_import(None, text))

    def _finish_import(self, result, error: str) -> None:
        self._set_busy(False)
        if result is None:
            self._show(error, ERR_STYLE)
            self.checkFinished.emit(False, error)
            return
        text = f"Imported {len(result.imported)} nodes."
        if result.probe_failures:
            text += " Probe failed for " + ", ".join(result.probe_failures) + "."
        self._show(text, OK_STYLE)
        self._mark_imported(result.imported)

    # ---- state ---------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        ticked = self.ticked()
        ssh = [c.node.name for c in ticked if c.node.transport is Transport.SSH]
        keys_shown = all(isinstance(self.presented.get(name), tuple) for name in ssh)
        self.check_button.setEnabled(not self.busy and bool(ssh) and not self.no_check.isChecked())
        self.import_button.setEnabled(not self.busy and bool(ticked) and (self.no_check.isChecked() or keys_shown))
        self.import_button.setText(f"Import {len(ticked)} nodes" if ticked else "Import")
        new = sum(1 for c in self.candidates if c.node.name not in self.existing)
        self.summary.setText(f"{len(self.candidates)} in the file · {new} new · {len(ticked)} ticked")
