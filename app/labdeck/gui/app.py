"""run_app: the desktop app's entry point (``labdeck`` with no arguments).

One instance per data folder: the app takes its lock before the engine and the window start
(instance_lock.py); a second start finds the first through a QLocalServer keyed on the data
folder, asks it to raise its window, and exits 0. The Engine is closed on quit (running runs
are cancelled and their process trees killed). An engine that fails to start, or a data folder
LabDeck cannot use, is shown in a message box (a double-clicked app has no console).

``--minimized`` (the Windows autostart) starts in the tray, or minimised where there is no tray.

The app fires the catalog's schedules while it runs; when another LabDeck process on this
computer (``labdeck daemon``, for one) already does, the status bar says so and the app works on
without its own scheduler.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox

from ..core.errors import LabDeckError
from ..store import paths
from ..store.log_files import add_file_log
from .icons import app_icon
from .instance_lock import ask_first_instance, take_instance_lock
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
    """Listens for later starts and calls ``on_raise`` when one asks (a request that comes before
    there is a window is kept until ``set_target``)."""

    def __init__(self, name: str, on_raise=None):
        self.server = QLocalServer()
        self.on_raise = on_raise
        self.pending = False
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
            if self.on_raise is None:
                self.pending = True
            else:
                self.on_raise()

    def set_target(self, on_raise) -> None:
        self.on_raise = on_raise
        if self.pending:
            self.pending = False
            on_raise()

    def close(self) -> None:
        self.server.close()


def run_app(data_dir: str | Path | None = None, argv: list[str] | None = None, minimized: bool = False) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("LabDeck")
    app.setOrganizationName("LabDeck")
    app.setWindowIcon(app_icon())
    try:
        resolved = paths.resolve_data_dir(data_dir)
    except LabDeckError as exc:
        show_error("LabDeck cannot use its data folder", str(exc))
        return 2
    name = server_name(resolved)
    lock = take_instance_lock(resolved)  # first: before the engine and the window
    if lock is None:
        if ask_first_instance(ask_running_instance, name):
            print("LabDeck is already running for this data folder; brought its window to the front.")
            return 0
        show_error("LabDeck is already running", f"Another LabDeck holds {resolved} but does not answer; "
                   "close it (Task Manager: LabDeck) and start LabDeck again.")
        return 2
    instance = SingleInstance(name)  # listening at once: a second start asks here while this one starts

    log_to_file(paths.app_log_path(resolved))
    try:
        engine, window = open_main_window(resolved)
    except Exception as exc:
        logging.getLogger("labdeck").error("LabDeck could not start its engine", exc_info=exc)
        show_error("LabDeck could not start", engine_failure_text(exc, resolved))
        instance.close()
        lock.unlock()
        return 1
    window.start_scheduling_in_background()  # another process may already schedule this catalog: shown, not fatal
    app.setQuitOnLastWindowClosed(window.tray is None)
    instance.set_target(window.bring_to_front)
    window.quitRequested.connect(app.quit)
    show_main_window(window, minimized)
    QTimer.singleShot(300, charts.preload)  # pyqtgraph loads while the user looks at the first page
    QTimer.singleShot(600, window.maybe_start_tour)
    try:
        return app.exec()
    finally:
        instance.close()
        window.bridge.detach()
        engine.close()
        lock.unlock()


def show_main_window(window, minimized: bool) -> None:
    """``--minimized`` (autostart): only the tray icon when there is a tray, else a minimised window."""
    if not minimized:
        window.show()
    elif window.tray is None:
        window.showMinimized()


def engine_failure_text(exc: BaseException, data_dir: Path) -> str:
    """What failed, and the log files to read (the engine's is named once, in the error or here)."""
    engine_log, app_log = paths.engine_log_path(data_dir), paths.app_log_path(data_dir)
    logs = f"the app's log is {app_log}" if str(engine_log) in str(exc) else \
        f"the engine's log is {engine_log} and the app's log is {app_log}"
    return f"{exc}\n\nAlso {logs}. Both are text files: open them in Notepad (or any editor)."


def show_error(title: str, text: str) -> None:
    """A message box (the windowed app has no console), and the same text on stderr if there is one."""
    if sys.stderr is not None:
        print(f"labdeck: error: {text}", file=sys.stderr)
    box = QMessageBox(QMessageBox.Icon.Critical, title, text)
    box.exec()


def open_main_window(data_dir: Path, use_tray: bool | None = None):
    """The engine and the main window on it. The engine starts on a thread, so that its child
    process boots while this process loads the window's modules (about 0.2 s of every start)."""
    starting: Future = Future()

    def start() -> None:
        try:
            starting.set_result(start_engine(data_dir))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
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
    log file: an app started by a double-click has no console to print them on. A rotation that
    fails (a viewer has the file open on Windows) does not stop the logging."""
    add_file_log(path)
