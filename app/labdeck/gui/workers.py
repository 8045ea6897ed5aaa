"""Run slow work (network, node probes, file scans) off the GUI thread.

``run_async(fn, on_done, on_error)`` runs ``fn`` on Qt's global thread pool and delivers its
result or exception back on the GUI thread through a queued signal. Callbacks whose receiver
widget has been deleted meanwhile are dropped quietly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)
_alive: set[_Relay] = set()
# The tasks wait on the network, a node or the engine process far more than they use a CPU:
# Qt's default (one thread per core, two here) let two calls to a busy engine, each bounded
# only by its 120 s deadline, hold up every log read and every other call behind them.
POOL_THREADS = 16


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: _Relay):
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - delivered to on_error on the GUI thread
            self._relay.failed.emit(exc)
        else:
            self._relay.done.emit(result)


def _guard(relay: _Relay, callback: Callable | None):
    def call(value) -> None:
        _alive.discard(relay)
        if callback is None:
            return
        try:
            callback(value)
        except RuntimeError as exc:  # the receiving widget is gone
            if "deleted" not in str(exc):
                raise
    return call


def in_flight() -> int:
    """How many started tasks have not yet delivered their result or failure."""
    return len(_alive)


def run_async(fn: Callable[[], object], on_done: Callable[[object], None] | None = None,
              on_error: Callable[[Exception], None] | None = None) -> None:
    relay = _Relay()
    _alive.add(relay)
    relay.done.connect(_guard(relay, on_done))
    relay.failed.connect(_guard(relay, on_error or (lambda exc: log.error("background task failed: %s", exc))))
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < POOL_THREADS:
        pool.setMaxThreadCount(POOL_THREADS)
    pool.start(_Task(fn, relay))
