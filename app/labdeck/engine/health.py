"""Node health, as placement sees it: a node found unreachable is down at once, and nothing new
is placed on it until a probe succeeds again. One watcher probes every node — a down node
soon and then less often (2 s, 4 s, ... up to the probe interval), an up node once per probe
interval (setting ``probe_s``, default 60 s) — so a node that comes back returns by itself
and the grid's CPU, memory, disk and "last seen" stay current. Each probe's result is saved
through ``Catalog.mark_node_seen(..., probe=...)`` and announced as a ``NodeSeen`` event.

A node's down state is recorded in the catalog too (store/node_down.py), so every process
shows it ("down since 14:05: connection refused") and the next engine starts from it: a node
recorded down stays out of placement until its first probe, which comes at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..core.errors import LabDeckError
from ..core.events import NodeSeen
from ..store import node_down
from ..store.catalog import Catalog
from .bus import EventBus
from .heartbeat import float_setting

log = logging.getLogger(__name__)
PROBE_SETTING = "probe_s"
DEFAULT_PROBE_S = 60.0
FIRST_RETRY_S = 2.0
TICK_S = 0.5
PROBE_WORKERS = 4


@dataclass
class _State:
    down_since: float | None = None
    reason: str = ""
    next_probe: float = 0.0       # monotonic time of the next probe
    backoff_s: float = FIRST_RETRY_S
    probing: bool = False
    probed: bool = False          # probed at least once by this engine
    last_error: str = ""


class NodeHealth:
    def __init__(self, catalog: Catalog, pool, bus: EventBus, on_change: Callable[[], None] = lambda: None):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self._on_change = on_change
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._probes = ThreadPoolExecutor(max_workers=PROBE_WORKERS, thread_name_prefix="node-probe")
        self._thread: threading.Thread | None = None
        for down in node_down.down_nodes(catalog).values():  # what the last engine found: probed at once
            self._states[down.node] = _State(down_since=down.since, reason=down.reason)

    def start(self) -> None:
        """Start watching (the engine that owns the catalog does; a short-lived one need not)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="node-health")
            self._thread.start()

    # ---- what placement asks --------------------------------------------------------------

    def down(self, name: str) -> str | None:
        """Why the node is down (None: it is not)."""
        with self._lock:
            state = self._states.get(name)
            if state is None or state.down_since is None:
                return None
            return (f"{name} is down since {time.strftime('%H:%M:%S', time.localtime(state.down_since))} "
                    f"({state.reason}); nothing is placed on it until a probe succeeds")

    def probed(self, name: str) -> bool:
        with self._lock:
            state = self._states.get(name)
            return bool(state and state.probed)

    def probe_error(self, name: str) -> str:
        with self._lock:
            state = self._states.get(name)
            return state.last_error if state else ""

    # ---- what the dispatcher and the queue tell ------------------------------------------

    def mark_down(self, name: str, reason: str, announce: bool = False) -> bool:
        """The node did not answer: down now, probed again soon. ``announce``: publish a
        NodeSeen (a probe's failure; a run's own events already say it could not reach the
        node). True when it was up until now."""
        with self._lock:
            state = self._states.setdefault(name, _State())
            newly = state.down_since is None
            if newly:
                state.down_since = time.time()
                state.reason = reason
                state.backoff_s = FIRST_RETRY_S
                state.next_probe = time.monotonic() + FIRST_RETRY_S
        if newly:
            log.warning("node %s is down: %s", name, reason)
            self._record(node_down.mark_down, name, state.down_since, reason)
            self._pool.forget(name)
            if announce:
                self._bus.publish(NodeSeen(name, False, reason))
            self._on_change()
            self._wake.set()
        return newly

    def probe_soon(self, name: str) -> None:
        with self._lock:
            state = self._states.setdefault(name, _State())
            if not state.probing:
                state.next_probe = 0.0
        self._wake.set()

    # ---- the watcher ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._probe_due()
            except Exception:
                log.exception("the node-health watcher failed a round")
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _probe_due(self) -> None:
        interval = float_setting(self._catalog, PROBE_SETTING, DEFAULT_PROBE_S)
        now, wall = time.monotonic(), time.time()
        due = []
        for node in self._catalog.list_nodes():
            with self._lock:
                state = self._states.get(node.name)
                if state is None:  # first sight: probe now if the catalog's view is older than the interval
                    state = self._states[node.name] = _State()
                    age = wall - node.last_seen if node.last_seen else None
                    state.next_probe = now if age is None or age >= interval else now + interval - age
                state.next_probe = min(state.next_probe, now + interval)  # the interval may have been shortened
                if state.probing or state.next_probe > now:
                    continue
                state.probing = True
            due.append(node)
        for node in due:
            self._probes.submit(self._probe, node, interval)

    def _probe(self, node, interval: float) -> None:
        executor = None
        try:
            if self.down(node.name):
                self._pool.forget(node.name)  # a dead connection is not reused
            executor = self._pool.get(node)
            probe = executor.probe()
        except Exception as exc:  # noqa: BLE001 - any failure means the node did not answer the probe
            if executor is not None and not self._pool.is_current(node.name, executor):
                # closed under the probe (the node's settings changed): the closing failed it,
                # not the node; marking it down would also close the new connection in use
                self._probe_again_soon(node.name)
                return
            self._failed(node.name, str(exc) or type(exc).__name__, interval)
            return
        self._catalog.mark_node_seen(node.name, time.time(), probe=probe, os_family=probe.get("os_family"))
        with self._lock:
            state = self._states.setdefault(node.name, _State())
            came_back = state.down_since is not None
            state.down_since, state.reason, state.last_error = None, "", ""
            state.backoff_s = FIRST_RETRY_S
            state.next_probe = time.monotonic() + interval
            state.probing, state.probed = False, True
        if came_back:
            self._record(node_down.clear_down, node.name)
        self._bus.publish(NodeSeen(node.name, True))
        if came_back:
            log.warning("node %s answers again", node.name)
        self._on_change()

    def _probe_again_soon(self, name: str) -> None:
        with self._lock:
            state = self._states.setdefault(name, _State())
            state.probing = False
            state.next_probe = time.monotonic() + TICK_S
        self._wake.set()

    def _failed(self, name: str, error: str, interval: float) -> None:
        self.mark_down(name, error, announce=True)
        with self._lock:
            state = self._states.setdefault(name, _State())
            state.last_error = error
            state.probing, state.probed = False, True
            state.next_probe = time.monotonic() + state.backoff_s
            state.backoff_s = min(interval, state.backoff_s * 2)
        self._on_change()

    def _record(self, write, *args) -> None:
        """Into the catalog for the other processes; placement here goes by memory whatever happens."""
        try:
            write(self._catalog, *args)
        except (LabDeckError, OSError) as exc:  # a full disk, a locked file: said, not fatal
            log.warning("could not record node %s's state in the catalog: %s", args[0], exc)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._probes.shutdown(wait=False, cancel_futures=True)
