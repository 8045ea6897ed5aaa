"""EngineBridge: the one place where engine events become Qt signals.

The engine publishes typed events synchronously on its worker threads. The bridge only
queues them: NodeRunOutput is buffered per node run and flushed to the GUI thread at most
every ``interval_ms`` (so a hundred chatty nodes cannot flood the event loop); every other
event is delivered through a queued signal, after any output buffered before it, so a node
run's last lines always arrive before its ``nodeRunFinished``.

Two output signals: ``outputArrived`` — once per flush, which node runs wrote how many
characters (what the app uses: the log views read the files themselves) — and
``nodeRunOutput`` with the text itself, per node run. The text is kept and joined only
while something is connected to ``nodeRunOutput``: at 100 MB/s of output, copying it to
the GUI thread (and to UTF-16 and back) would cost the event loop more than it can spare
while the engine's threads compete with it for the GIL.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ..core.events import (
    NodeRunFinished,
    NodeRunOutput,
    NodeRunStarted,
    NodeRunStateChanged,
    NodeSeen,
    Notification,
    RunFinished,
    RunStarted,
)
from ..core.progress import TextProgress
from ..core.transfers import TransferFinished, TransferNodeFinished, TransferProgress, TransferQueued
from ..engine.api import EngineApi

TRANSFER_EVENTS = (TransferQueued, TransferProgress, TransferNodeFinished, TransferFinished)
_TEXT_SIGNAL = b"nodeRunOutput(int,int,QString,QString)"


class EngineBridge(QObject):
    runStarted = Signal(int, str, object)                    # run_id, job_name, tuple of node names
    nodeRunStarted = Signal(int, int, str, int)              # run_id, node_run_id, node, attempt
    nodeRunOutput = Signal(int, int, str, str)               # run_id, node_run_id, node, text (coalesced)
    outputArrived = Signal(object)                           # {(run_id, node_run_id, node): characters} per flush
    nodeRunFinished = Signal(int, int, str, str, object, str)  # run_id, node_run_id, node, status, exit code, message
    nodeRunStateChanged = Signal(int, int, str, str, str)    # run_id, node_run_id, node, status (queued...), message
    runFinished = Signal(int, str, str)                      # run_id, job_name, status
    nodeSeen = Signal(str, bool, str)                        # node, reachable, message
    notification = Signal(str, str, object, str)             # kind, job_name, run_id, text (engine Notification)
    changed = Signal()                                       # any non-output event: catalog state moved
    transferEvent = Signal(object)                           # a core.transfers event (queued, progress, ends)

    _event = Signal(object)
    _wake = Signal()

    def __init__(self, engine: EngineApi, interval_ms: int = 50, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int, str], list[str]] = {}
        self._sizes: dict[tuple[int, int, str], int] = {}
        self._progress: dict[int, TextProgress] = {}   # node run id -> what its output said so far
        self._want_text = False
        self._recheck_receivers = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush_output)
        self._event.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._wake.connect(self._arm, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = engine.bus.subscribe(self._on_engine_event)

    def detach(self) -> None:
        """Stop listening to the engine (call before closing it). Events it queued before are
        dropped too: delivered later, they would make pages read a closed catalog."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()

    # ---- engine threads ------------------------------------------------------------------

    def live_progress(self, node_run_id: int) -> tuple[int, str, float | None] | None:
        """(lines, last line, progress) of a node run whose output this bridge saw from its
        start; None for one that started before it was listening (read its log instead)."""
        with self._lock:
            p = self._progress.get(node_run_id)
            return None if p is None else p.snapshot()

    def _on_engine_event(self, event) -> None:
        if isinstance(event, NodeRunOutput):
            key = (event.run_id, event.node_run_id, event.node)
            with self._lock:
                p = self._progress.get(event.node_run_id)
                if p is not None:   # counted here, from text already in memory: no second read of the log
                    p.feed(event.text)
                first = not self._sizes
                self._sizes[key] = self._sizes.get(key, 0) + len(event.text)
                if self._want_text:
                    self._pending.setdefault(key, []).append(event.text)
            if first:
                self._wake.emit()
        else:
            if isinstance(event, NodeRunStarted) and event.attempt == 1:
                with self._lock:
                    self._progress.setdefault(event.node_run_id, TextProgress())
            self._event.emit(event)

    # ---- GUI thread ------------------------------------------------------------------------

    # Qt calls these with a signal-slot mutex held: calling back into QObject from them (as
    # isSignalConnected did) deadlocks when two objects share a pool mutex. So they only set
    # flags; the next flush, on the GUI thread and outside Qt's locks, asks Qt again.

    def connectNotify(self, signal) -> None:
        super().connectNotify(signal)
        if bytes(signal.methodSignature()) == _TEXT_SIGNAL:
            self._want_text = True

    def disconnectNotify(self, signal) -> None:
        super().disconnectNotify(signal)
        self._recheck_receivers = True

    def _recheck_text_receivers(self) -> None:
        self._recheck_receivers = False
        meta = self.metaObject()
        want = self.isSignalConnected(meta.method(meta.indexOfSignal(_TEXT_SIGNAL.decode())))
        with self._lock:
            self._want_text = want
            if not want:
                self._pending.clear()

    def _arm(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush_output(self) -> None:
        if self._recheck_receivers:
            self._recheck_text_receivers()
        with self._lock:
            if not self._sizes:
                return
            pending, self._pending = self._pending, {}
            sizes, self._sizes = self._sizes, {}
        for (run_id, node_run_id, node), chunks in pending.items():
            self.nodeRunOutput.emit(run_id, node_run_id, node, "".join(chunks))
        self.outputArrived.emit(sizes)

    def _deliver(self, event) -> None:
        if self._unsubscribe is None:  # detached
            return
        if isinstance(event, TRANSFER_EVENTS):  # no catalog change: the pages need not reload
            self.transferEvent.emit(event)
            return
        self.flush_output()
        if isinstance(event, RunStarted):
            self.runStarted.emit(event.run_id, event.job_name, tuple(event.nodes))
        elif isinstance(event, NodeRunStarted):
            self.nodeRunStarted.emit(event.run_id, event.node_run_id, event.node, event.attempt)
        elif isinstance(event, NodeRunFinished):
            self.nodeRunFinished.emit(event.run_id, event.node_run_id, event.node, str(event.status),
                                      event.exit_code, event.message)
        elif isinstance(event, NodeRunStateChanged):
            self.nodeRunStateChanged.emit(event.run_id, event.node_run_id, event.node, str(event.status),
                                          event.message)
        elif isinstance(event, RunFinished):
            self.runFinished.emit(event.run_id, event.job_name, str(event.status))
        elif isinstance(event, NodeSeen):
            self.nodeSeen.emit(event.node, event.reachable, event.message)
        elif isinstance(event, Notification):  # the notifier's decisions
            self.notification.emit(event.kind, event.job_name, event.run_id, event.text)
        self.changed.emit()
