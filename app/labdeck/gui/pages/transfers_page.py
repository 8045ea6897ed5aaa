"""Transfers page: the queue of uploads and collections, one row per node with the file being
moved, per-file and per-node progress bars, speed and ETA; start an upload or a collection,
cancel the selected nodes, retry a transfer's failed nodes (it resumes from part files)."""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QPushButton, QSpinBox, QTableView, QVBoxLayout,
                               QWidget)

from ...core.errors import LabDeckError
from ...core.transfers import Direction
from ...engine.transfers import TransferRequest
from ..models.transfer_model import FILE_PCT, NODE_PCT, ProgressDelegate, TransferTableModel
from ..widgets.page_parts import add_buttons
from ...engine.api import EngineApi


class TransferDialog(QDialog):
    """What to copy where: sources, targets, destination, nodes at once."""

    def __init__(self, direction: Direction, targets: str = "", sources: list[str] | None = None, parent=None):
        super().__init__(parent)
        self.direction = direction
        put = direction is Direction.PUT
        self.setWindowTitle("Upload to nodes" if put else "Collect from nodes")
        self.sources = QLineEdit("; ".join(sources or []))
        self.sources.setPlaceholderText("local files or folders, separated by ;" if put
                                        else "remote paths or globs, e.g. out/*.csv; logs")
        self.targets = QLineEdit(targets or "all")
        self.destination = QLineEdit("labdeck-inbox" if put else "")
        self.destination.setPlaceholderText("folder on each node (${node.name} allowed)" if put
                                            else "local folder; each node gets a subfolder")
        self.max_parallel = QSpinBox()
        self.max_parallel.setRange(0, 256)
        self.max_parallel.setSpecialValueText("all at once")
        form = QFormLayout(self)
        source_row = QHBoxLayout()
        source_row.addWidget(self.sources, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_sources if put else self._browse_destination)
        source_row.addWidget(browse)
        form.addRow("Files" if put else "Remote paths", source_row)
        form.addRow("Nodes", self.targets)
        form.addRow("To", self.destination)
        form.addRow("Nodes at once", self.max_parallel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse_sources(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Files to upload")
        if files:
            self.sources.setText("; ".join(files))

    def _browse_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Collect into")
        if folder:
            self.destination.setText(folder)

    def request(self) -> TransferRequest:
        sources = [s.strip() for s in self.sources.text().split(";") if s.strip()]
        return TransferRequest(self.direction, sources, self.destination.text().strip(),
                               self.targets.text().strip() or "all", self.max_parallel.value())


class TransfersPage(QWidget):
    def __init__(self, engine: EngineApi, actions, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.actions = actions
        self.dialog: TransferDialog | None = None
        self.model = TransferTableModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        delegate = ProgressDelegate(self.view)
        self.view.setItemDelegateForColumn(FILE_PCT, delegate)
        self.view.setItemDelegateForColumn(NODE_PCT, delegate)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in ((0, 40), (1, 260), (2, 110), (3, 160), (FILE_PCT, 120), (NODE_PCT, 170), (6, 90), (7, 60)):
            self.view.setColumnWidth(col, width)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)

        bar = QHBoxLayout()
        self.buttons = add_buttons(bar, (
            ("upload", "Upload…", "Copy local files or folders to a folder on nodes", self.upload),
            ("collect", "Collect…", "Copy remote files, folders or globs from nodes into a local folder", self.collect),
            ("cancel", "Cancel", "Stop the selected nodes' transfers (part files are kept for a retry)", self.cancel),
            ("retry", "Retry failed", "Run the selected transfer again on its failed nodes; it resumes", self.retry)))
        bar.addStretch(1)
        self.summary = QLabel()
        bar.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Transfers</h2>"))
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self._update_buttons()

    # ---- events --------------------------------------------------------------------------

    def on_transfer_event(self, event) -> None:
        self.model.on_event(event)
        states = [r.state for r in self.model.rows]
        self.summary.setText(f"{states.count('running') + states.count('queued')} going · "
                             f"{states.count('failed')} failed · {states.count('done')} done")
        self._update_buttons()

    def _selected_rows(self):
        return [self.model.rows[i.row()] for i in self.view.selectionModel().selectedRows()]

    def _update_buttons(self, *_args) -> None:
        rows = self._selected_rows()
        self.buttons["cancel"].setEnabled(any(r.state in ("queued", "running") for r in rows))
        self.buttons["retry"].setEnabled(any(r.state in ("failed", "cancelled") for r in rows))

    # ---- actions -------------------------------------------------------------------------

    def upload(self, targets: str = "", sources: list[str] | None = None) -> TransferDialog:
        return self._open(Direction.PUT, targets, sources)

    def collect(self, targets: str = "") -> TransferDialog:
        return self._open(Direction.GET, targets)

    def _open(self, direction: Direction, targets: str, sources: list[str] | None = None) -> TransferDialog:
        dialog = TransferDialog(direction, targets if isinstance(targets, str) else "", sources, self)
        dialog.accepted.connect(lambda: self.start(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def start(self, request: TransferRequest):
        try:
            transfer = self.engine.transfers.start(request)
        except LabDeckError as exc:
            self.actions.error.emit(str(exc))
            return None
        self.actions.info.emit(f"Transfer #{transfer.id} started on {len(transfer.nodes)} node(s)")
        return transfer

    def cancel(self) -> None:
        for row in self._selected_rows():
            if row.state in ("queued", "running"):
                self.engine.transfers.cancel(row.transfer_id, row.node)

    def retry(self) -> None:
        for transfer_id in sorted({r.transfer_id for r in self._selected_rows() if r.state in ("failed", "cancelled")}):
            try:
                transfer = self.engine.transfers.retry(transfer_id)
                self.actions.info.emit(f"Transfer #{transfer_id} retried as #{transfer.id}")
            except LabDeckError as exc:
                self.actions.error.emit(str(exc))
