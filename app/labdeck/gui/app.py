"""run_app: the desktop app's entry point (``labdeck`` with no arguments).

One instance per data folder: a second start finds the first through a QLocalServer keyed on
the data folder, asks it to raise its window, and exits 0. The Engine is closed on quit
(running runs are cancelled and their process trees killed).

The app fires the catalog's schedules while it runs; when another LabDeck process on this
computer (``labdeck daemon``, for one) already does, the status bar says so and the app works on
without its own scheduler.
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import os
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication

from ..store import paths
from .icons import app_icon
from .widgets import charts

RAISE = b"raise\n"


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]
    return f"labdeck-{digest}"


def ask_running_instance(name: str, timeout_ms: int = 500) -> bool:
    """True if another instance answered (and was asked to raise its window)."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(QByteArray(RAISE))
    sock.flush()
    sock.waitForBytesWritten(timeout_ms)
    sock.disconnectFromServer()
    return True


class SingleInstance:
    """Listens for later starts and calls ``on_raise`` when one asks."""

    def __init__(self, name: str, on_raise):
        self.server = QLocalServer()
        self.on_raise = on_raise
        QLocalServer.removeServer(name)  # a stale socket left by a crash
        self.server.listen(name)
        self.server.newConnection.connect(self._connection)

    def _connection(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(sock.deleteLater)

    def _read(self, sock: QLocalSocket) -> None:
        if bytes(sock.readAll().data()).startswith(RAISE.strip()):
            self.on_raise()

    def close(self) -> None:
        self.server.close()


def run_app(data_dir: str | Path | None = None, argv: list[str] | None = None) -> int:
    resolved = paths.resolve_data_dir(data_dir)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("LabDeck")
    app.setOrganizationName("LabDeck")
    app.setWindowIcon(app_icon())
    name = server_name(resolved)
    if ask_running_instance(name):
        print("LabDeck is already running for this data folder; brought its window to the front.")
        return 0

    log_to_file(paths.app_log_path(resolved))
    engine, window = open_main_window(resolved)
    window.start_scheduling()  # another process may already schedule this catalog: shown, not fatal
    app.setQuitOnLastWindowClosed(window.tray is None)
    instance = SingleInstance(name, window.bring_to_front)
    window.quitRequested.connect(app.quit)
    window.show()
    QTimer.singleShot(300, charts.preload)  # pyqtgraph loads while the user looks at the first page
    QTimer.singleShot(600, window.maybe_start_tour)
    try:
        return app.exec()
    finally:
        instance.close()
        window.bridge.detach()
        engine.close()


def open_main_window(data_dir: Path, use_tray: bool | None = None):
    """The engine and the main window on it. The engine starts on a thread, so that its child
    process boots while this process loads the window's modules (about 0.2 s of every start)."""
    starting: Future = Future()

    def start() -> None:
        try:
            starting.set_result(start_engine(data_dir))
        except BaseException as exc:  # handed to the caller below
            starting.set_exception(exc)

    threading.Thread(target=start, name="engine-start", daemon=True).start()
    from .main_window import MainWindow

    engine = starting.result()
    return engine, MainWindow(engine, use_tray)


def start_engine(data_dir: Path):
    """The engine in a child process (the window stays smooth however much output the nodes
    send), or in this process with LABDECK_ENGINE=inprocess (for debugging)."""
    if os.environ.get("LABDECK_ENGINE") == "inprocess":
        from ..engine.engine import Engine
        return Engine(data_dir)
    from ..engine.engine_process import EngineProcess
    return EngineProcess(data_dir)


def log_to_file(path: Path) -> None:
    """Warnings, errors and uncaught exceptions (a slot that raised, say) also go to the app's own
    log file: an app started by a double-click has no console to print them on."""
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2**20, backupCount=2, encoding="utf-8", delay=True)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        logging.getLogger("labdeck").error("uncaught exception", exc_info=(kind, value, tb))
        if sys.stderr is not None:
            previous(kind, value, tb)

    sys.excepthook = excepthook
