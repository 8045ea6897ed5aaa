"""RemoteBrowser: one node's files — list a folder (off the GUI thread), go into folders and up,
download the selected entries (a collect transfer, shown on the Transfers page), upload local
files into the folder shown, and delete with a confirmation."""

from __future__ import annotations

import datetime
import posixpath

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...core.errors import LabDeckError
from ...core.transfers import Direction, RemoteEntry, TransferFinished
from ...engine.api import EngineApi
from ...engine.transfers import TransferRequest
from ..actions import ask_yes_no
from ..engine_calls import call_engine
from ..models.transfer_model import human_size
from ..widgets.page_parts import add_buttons, read_only_table
from ..workers import run_async


def home_folder(engine, node_name: str) -> str:
    """The node's login folder as its probe reported it (``home`` on POSIX, ``userprofile`` on
    Windows), or "." (the same folder, unnamed) before the node was probed."""
    try:
        probe = engine.catalog.get_node(node_name).probe or {}
    except LabDeckError:
        return "."
    return str(probe.get("home") or probe.get("userprofile") or ".")


class RemoteBrowser(QDialog):
    listed = Signal(str)            # the folder now shown
    failed = Signal(str)            # a one-line error
    transferStarted = Signal(int)   # transfer id

    def __init__(self, engine: EngineApi, node_name: str, path: str = ".", parent=None):
        super().__init__(parent)
        self.engine = engine
        self.node_name = node_name
        if path == ".":  # the login folder, by its real name when a probe has told it
            path = home_folder(engine, node_name)
        self.entries: list[RemoteEntry] = []
        self._uploads: set[int] = set()   # transfers into the folder shown: list it again when they end
        self._generation = 0
        self.confirm = ask_yes_no
        self.ask_folder = lambda: QFileDialog.getExistingDirectory(self, "Download into")
        self.ask_files = lambda: QFileDialog.getOpenFileNames(self, f"Upload to {self.node_name}")[0]
        self.setWindowTitle(f"Files on {node_name}")
        self.resize(760, 520)

        self.path = QLineEdit(path)
        self.path.returnPressed.connect(lambda: self.go(self.path.text()))
        up = QPushButton("Up")
        up.clicked.connect(self.go_up)
        top = QHBoxLayout()
        top.addWidget(QLabel("Folder"))
        top.addWidget(self.path, 1)
        top.addWidget(up)
        self.table = read_only_table(["Name", "Size", "Modified", "Type"])
        self.table.setSelectionMode(self.table.SelectionMode.ExtendedSelection)
        self.table.doubleClicked.connect(self._open_row)
        bar = QHBoxLayout()
        self.buttons = add_buttons(bar, (
            ("refresh", "Refresh", "List the folder again", lambda: self.go(self.path.text())),
            ("download", "Download…", "Copy the selected files or folders to this computer", self.download),
            ("upload", "Upload…", "Copy files from this computer into this folder", self.upload),
            ("delete", "Delete", "Delete the selected files or folders on the node", self.delete)))
        bar.addStretch(1)
        self.status = QLabel()
        bar.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bar)
        self.go(path)

    # ---- listing -------------------------------------------------------------------------

    def _with_backend(self, fn):
        def work():
            backend = self.engine.transfers.browser(self.node_name)
            try:
                return fn(backend)
            finally:
                backend.close()
        return work

    def go(self, path: str) -> None:
        path = path.strip() or "."
        self.status.setText("listing…")
        self._generation += 1
        generation = self._generation  # only the latest listing is shown (the user may click on meanwhile)
        run_async(self._with_backend(lambda b: b.listdir(path)),
                  lambda entries: generation == self._generation and self._show(path, entries),
                  lambda exc: generation == self._generation and self._failed(exc))

    def go_up(self) -> None:
        current = self.path.text().strip() or "."
        if current in (".", ""):
            parent = ".."
        elif current.rstrip("/").endswith(".."):
            parent = current.rstrip("/") + "/.."
        else:
            parent = posixpath.dirname(current.rstrip("/")) or ("/" if current.startswith("/") else ".")
        self.go(parent)

    def _show(self, path: str, entries: list[RemoteEntry]) -> None:
        self.path.setText(path)
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            when = datetime.datetime.fromtimestamp(e.mtime).strftime("%Y-%m-%d %H:%M") if e.mtime else ""
            kind = "folder" if e.is_dir else ("link" if e.is_link else "file")
            for col, text in enumerate((e.name + ("/" if e.is_dir else ""), "" if e.is_dir else human_size(e.size),
                                        when, kind)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.status.setText(f"{len(entries)} entries")
        self.listed.emit(path)

    def _failed(self, exc: Exception) -> None:
        self.status.setText("failed")
        self.failed.emit(str(exc))

    def _open_row(self, index) -> None:
        entry = self.entries[index.row()]
        if entry.is_dir:
            self.go(entry.path)

    def selected(self) -> list[RemoteEntry]:
        return [self.entries[i.row()] for i in self.table.selectionModel().selectedRows()]

    # ---- actions -------------------------------------------------------------------------

    def download(self) -> None:
        entries = self.selected()
        folder = self.ask_folder() if entries else ""
        if entries and folder:
            self._start(TransferRequest(Direction.GET, [e.path for e in entries], folder, self.node_name))

    def upload(self) -> None:
        files = self.ask_files()
        if files:
            self._start(TransferRequest(Direction.PUT, list(files), self.path.text().strip() or ".", self.node_name))

    def _start(self, request: TransferRequest) -> None:
        self.status.setText("starting the transfer…")  # the engine answers on a worker, never on the GUI thread
        call_engine(lambda: self.engine.transfers.start(request), lambda t: self._started(request, t),
                    self.failed.emit)

    def _started(self, request: TransferRequest, transfer) -> None:
        self.status.setText(f"transfer #{transfer.id} started (see Transfers)")
        if request.direction is Direction.PUT:
            self._uploads.add(transfer.id)
        self.transferStarted.emit(transfer.id)

    def on_transfer_event(self, event) -> None:
        """From the bridge: an upload started here ended, so the folder has new files."""
        if isinstance(event, TransferFinished) and event.transfer_id in self._uploads:
            self._uploads.discard(event.transfer_id)
            self.go(self.path.text())

    def delete(self) -> None:
        entries = self.selected()
        if not entries:
            return
        names = ", ".join(e.name for e in entries[:5]) + (" …" if len(entries) > 5 else "")
        if not self.confirm(self, "Delete on node", f"Delete {names} on {self.node_name}? This cannot be undone."):
            return

        def remove(backend) -> None:
            for e in entries:
                backend.remove(e.path)
        run_async(self._with_backend(remove), lambda _r: self.go(self.path.text()), self._failed)

