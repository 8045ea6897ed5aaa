"""Node heartbeats: a node run whose node gives no sign of life for the heartbeat time
(setting ``heartbeat_s``, default 30 s) is marked ``node_lost`` -- the command may still be
running there -- and back to ``running`` as soon as the node answers again; whoever follows
the node run then records its real outcome. One monitor thread checks every watched node run.

Signs of life come from the follower of a detached run: each status poll the node answers.
(Attached commands live on their connection, which is closed after 20 s without an answer:
they end ``unreachable``, see executors/ssh/connection.py.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..core.events import NodeRunStateChanged
from ..core.status import NodeRunStatus
from ..store.catalog import Catalog
from ..store.logs import LogWriter
from .bus import EventBus

log = logging.getLogger(__name__)

HEARTBEAT_SETTING = "heartbeat_s"
DEFAULT_HEARTBEAT_S = 30.0
CHECK_EVERY_S = 0.5


class Watch:
    """One node run under watch. ``alive()`` is cheap: call it on every sign of life."""

    def __init__(self, owner: Heartbeats, run_id: int, node_run_id: int, node: str, writer: LogWriter,
                 heartbeat_s: float, lost: bool, on_change: Callable[[bool], None] | None):
        self.owner = owner
        self.run_id, self.node_run_id, self.node = run_id, node_run_id, node
        self.writer = writer
        self.heartbeat_s = heartbeat_s
        self.lost = lost
        self.on_change = on_change  # called with True when lost, False when back
        self.last_answer = time.monotonic()
        self.lost_since: float | None = time.time() if lost else None
        self.closed = False
        self.reason: str | None = None  # why it is lost, when the reason is known
        self.lock = threading.Lock()

    def alive(self) -> None:
        self.last_answer = time.monotonic()
        if self.lost:
            self.owner.back(self)

    def blocked(self, reason: str) -> None:
        """No answer can come until the user fixes something (a changed host key, a refused
        login): node_lost now, with the reason, instead of after the heartbeat time."""
        self.owner.blocked(self, reason)

    def close(self) -> None:
        with self.lock:
            self.closed = True
        self.owner.forget(self)


class Heartbeats:
    def __init__(self, catalog: Catalog, bus: EventBus, stopped: threading.Event):
        self._catalog = catalog
        self._bus = bus
        self._stopped = stopped
        self._watches: dict[int, Watch] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._monitor, daemon=True, name="heartbeat").start()

    def publish(self, event) -> None:
        self._bus.publish(event)

    def heartbeat_s(self) -> float:
        return float_setting(self._catalog, HEARTBEAT_SETTING, DEFAULT_HEARTBEAT_S)

    def watch(self, run_id: int, node_run_id: int, node: str, writer: LogWriter, lost: bool = False,
              on_change: Callable[[bool], None] | None = None) -> Watch:
        w = Watch(self, run_id, node_run_id, node, writer, self.heartbeat_s(), lost, on_change)
        with self._lock:
            self._watches[node_run_id] = w
        return w

    def forget(self, w: Watch) -> None:
        with self._lock:
            if self._watches.get(w.node_run_id) is w:
                del self._watches[w.node_run_id]

    def _monitor(self) -> None:
        while not self._stopped.wait(CHECK_EVERY_S):
            with self._lock:
                watches = list(self._watches.values())
            for w in watches:
                if not w.lost and time.monotonic() - w.last_answer >= w.heartbeat_s:
                    try:
                        self._lost(w)
                    except Exception:
                        log.exception("marking node run %s lost failed", w.node_run_id)

    def _lost(self, w: Watch) -> None:
        with w.lock:
            silent = time.monotonic() - w.last_answer
            if w.closed or w.lost or silent < w.heartbeat_s:
                return
            w.lost, w.lost_since = True, time.time()
            message = (f"node {w.node} has not answered for {silent:.0f} s; the command may still be running "
                       "there. LabDeck keeps trying and records the real outcome when it answers")
            self._change(w, NodeRunStatus.NODE_LOST, message, True)

    def blocked(self, w: Watch, reason: str) -> None:
        with w.lock:
            if w.closed or (w.lost and w.reason == reason):
                return
            w.lost, w.reason = True, reason
            w.lost_since = w.lost_since or time.time()
            self._change(w, NodeRunStatus.NODE_LOST, reason, True)

    def back(self, w: Watch) -> None:
        with w.lock:
            if w.closed or not w.lost:
                return
            w.lost, w.reason = False, None
            gap = f" after {time.time() - w.lost_since:.0f} s" if w.lost_since else ""
            w.lost_since = None
            self._change(w, NodeRunStatus.RUNNING, f"node {w.node} answers again{gap}; following the command on",
                         False)

    def _change(self, w: Watch, status: NodeRunStatus, message: str, lost: bool) -> None:
        w.writer.note(message)
        self._catalog.update_node_run(w.node_run_id, status=status, message=message)
        if w.on_change is not None:
            w.on_change(lost)
        self._bus.publish(NodeRunStateChanged(w.run_id, w.node_run_id, w.node, status, message))


def float_setting(catalog: Catalog, key: str, default: float) -> float:
    """A number from the catalog's settings; the default when unset or not a number."""
    try:
        return float(catalog.get_setting(key) or default)
    except ValueError:
        return default
