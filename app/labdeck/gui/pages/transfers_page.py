"""Transfers page: the queue of uploads and collections, one row per node with the file being
moved, per-file and per-node progress bars, speed and ETA; start an upload or a collection,
cancel the selected nodes, retry a transfer's failed nodes (it resumes from part files)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import LabDeckError
from ...core.transfers import Direction
from ...engine.api import EngineApi
from ...engine.transfers import TransferRequest
from ..engine_calls import call_engine
from ..models.transfer_model import FILE_PCT, NODE_PCT, ProgressDelegate, TransferTableModel
from ..widgets.context_menu import button_entries, install_menu
from ..widgets.page_parts import add_buttons


class TransferDialog(QDialog):
    """What to copy where: sources, targets, destination, nodes at once. An upload keeps its
    files in a list (a real file picker adds to it; a typed or pasted path is added with Enter);
    a request that cannot start keeps the dialog open with the reason, so nothing typed is lost."""

    def __init__(self, direction: Direction, targets: str = "", sources: list[str] | None = None, parent=None,
                 submit=None):
        super().__init__(parent)
        self.direction = direction
        self.submit = submit          # (TransferRequest, done) -> None; done(error text or None); None: just accept
        self.submitting = False
        put = direction is Direction.PUT
        self.setWindowTitle("Upload to nodes" if put else "Collect from nodes")
        self.setMinimumWidth(620)
        self.sources = QLineEdit("" if put else "; ".join(sources or []))
        self.sources.setPlaceholderText("type or paste a path and press Enter (or use Add files…)" if put
                                        else "remote paths or globs, e.g. out/*.csv; logs")
        self.targets = QLineEdit(targets or "all")
        self.destination = QLineEdit("labdeck-inbox" if put else "")
        self.destination.setPlaceholderText("folder on each node (${node.name} allowed)" if put
                                            else "local folder; each node gets a subfolder")
        self.max_parallel = QSpinBox()
        self.max_parallel.setRange(0, 256)
        self.max_parallel.setSpecialValueText("all at once")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c62828;")
        self.error.hide()
        form = QFormLayout(self)
        self.chosen = QListWidget()
        if put:
            self.chosen.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
            self.chosen.setMinimumHeight(110)
            for path in sources or []:
                self.add_path(path)
            picks = QHBoxLayout()
            for text, slot in (("Add files…", self._browse_files), ("Add folder…", self._browse_folder),
                               ("Remove", self._remove_chosen)):
                button = QPushButton(text)
                button.clicked.connect(slot)
                picks.addWidget(button)
            picks.addStretch(1)
            self.sources.returnPressed.connect(self._add_typed)
            box = QVBoxLayout()
            box.addWidget(self.chosen)
            box.addWidget(self.sources)
            box.addLayout(picks)
            form.addRow("Files", box)
        else:
            self.chosen.hide()
            source_row = QHBoxLayout()
            source_row.addWidget(self.sources, 1)
            browse = QPushButton("Browse…")
            browse.clicked.connect(self._browse_destination)
            source_row.addWidget(browse)
            form.addRow("Remote paths", source_row)
        form.addRow("Nodes", self.targets)
        form.addRow("To", self.destination)
        form.addRow("Nodes at once", self.max_parallel)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    # ---- the list of local paths --------------------------------------------------------------

    def paths(self) -> list[str]:
        return [self.chosen.item(i).text() for i in range(self.chosen.count())]

    def add_path(self, path: str) -> None:
        if path and path not in self.paths():
            self.chosen.addItem(path)

    def _add_typed(self) -> None:
        for path in split_local_paths(self.sources.text()):
            self.add_path(path)
        self.sources.clear()

    def _remove_chosen(self) -> None:
        for item in self.chosen.selectedItems():
            self.chosen.takeItem(self.chosen.row(item))

    def _browse_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Files to upload")
        for path in files:
            self.add_path(path)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to upload")
        if folder:
            self.add_path(folder)

    def _browse_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Collect into")
        if folder:
            self.destination.setText(folder)

    # ---- the request ----------------------------------------------------------------------------

    def request(self) -> TransferRequest:
        if self.direction is Direction.PUT:
            sources = self.paths() + [p for p in split_local_paths(self.sources.text()) if p not in self.paths()]
        else:
            sources = [s.strip() for s in self.sources.text().split(";") if s.strip()]
        return TransferRequest(self.direction, sources, self.destination.text().strip(),
                               self.targets.text().strip() or "all", self.max_parallel.value())

    def problem(self) -> str | None:
        """What keeps the request from starting, checked here so the dialog can stay open."""
        request = self.request()
        if not request.sources:
            return "Add at least one file or folder." if self.direction is Direction.PUT else "Give a remote path."
        if self.direction is Direction.PUT:
            missing = [s for s in request.sources if not Path(s).exists()]
            if missing:
                return f"Not found on this computer: {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                                     if len(missing) > 1 else "")
        if not request.destination and self.direction is Direction.GET:
            return "Choose a local folder to collect into."
        return None

    def accept(self) -> None:
        if self.submitting:
            return
        problem = self.problem()
        if problem or self.submit is None:
            return self._submitted(problem)
        self.submitting = True  # the engine answers on a worker; the dialog stays open (and usable) till then
        self.ok_button.setEnabled(False)
        self.submit(self.request(), self._submitted)

    def _submitted(self, problem: str | None) -> None:
        self.submitting = False
        self.ok_button.setEnabled(True)
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        super().accept()


def split_local_paths(text: str) -> list[str]:
    """Paths as typed or pasted: one per line or separated by ';'; a line of several existing
    paths separated by spaces (as a file manager copies them, possibly quoted) is split too."""
    result: list[str] = []
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if Path(part.strip('"\'')).exists():
            result.append(part.strip('"\''))
            continue
        try:
            words = shlex.split(part, posix=os.name != "nt")
        except ValueError:
            words = []
        words = [w.strip('"') for w in words]
        result.extend(words if len(words) > 1 and all(Path(w).exists() for w in words) else [part])
    return result


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
        install_menu(self.view, lambda: button_entries(self.buttons, ["cancel", "retry"]))
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
        dialog = TransferDialog(direction, targets if isinstance(targets, str) else "", sources, self,
                                submit=self._submit)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _submit(self, request: TransferRequest, done) -> None:
        """Start it from the dialog, off the GUI thread; the engine's refusal goes back to the
        dialog, which stays open."""
        def started(transfer) -> None:
            self.actions.info.emit(f"Transfer #{transfer.id} started on {len(transfer.nodes)} node(s)")
            done(None)
        call_engine(lambda: self.engine.transfers.start(request), started, done)

    def start(self, request: TransferRequest):
        """Start a transfer and return it (for scripts and tests: this waits for the engine's
        answer; the window's own Upload and Collect go through the dialog, which does not)."""
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
                call_engine(lambda r=row: self.engine.transfers.cancel(r.transfer_id, r.node), None,
                            self.actions.error.emit, f"Cannot cancel transfer #{row.transfer_id}: ")

    def retry(self) -> None:
        for transfer_id in sorted({r.transfer_id for r in self._selected_rows() if r.state in ("failed", "cancelled")}):
            call_engine(lambda t=transfer_id: self.engine.transfers.retry(t),
                        lambda transfer, t=transfer_id: self.actions.info.emit(f"Transfer #{t} retried as "
                                                                               f"#{transfer.id}"),
                        self.actions.error.emit, f"Cannot retry transfer #{transfer_id}: ")
