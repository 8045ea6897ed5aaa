"""A client of the catalog's engine service (engine/service.py): what the app, ``labdeck
daemon`` and the CLI's run/exec/rerun/cancel commands hold instead of an Engine of their own.

``EngineProcess`` implements ``EngineApi``: its own ``catalog`` on the same SQLite file (reads
and simple edits), a local ``bus`` fed with the service's events, and the engine's operations
(start, cancel, nodes, scheduler) as calls to the service. It finds the service through the
data folder's address file and starts it when there is none (store/engine_files.py). The
service runs in its own process, so paramiko's and the drain loops' Python time never
competes with the app's GUI thread, and runs outlive the process that started them.

The service has no console (a windowed app has none to give it): it starts with its standard
streams on DEVNULL and writes its warnings, errors and a crash's traceback to its own log,
``engine.log`` in the data folder; when it fails to start, the error names that log."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import LabDeckError
from ..core.events import Notification
from ..core.models import Job, Node, Run, Trigger
from ..store import engine_files, paths
from ..store.catalog import Catalog
from ..store.disk_space import DiskFull, disk_full_message, looks_full
from . import protocol
from .api import call_signature
from .bus import EventBus
from .protocol import PROTOCOL, Bye, Call, Error, EventMessage, Hello, Refused, Result, Welcome
from .wire_values import WireError

if TYPE_CHECKING:
    from ..executors.pool import ExecutorPool
    from .nodes import NodeCheck

log = logging.getLogger(__name__)
CHILD_FLAG = "--engine-process"
START_TIMEOUT_S = 60.0
WAIT_SLICE_S = 1.0  # a wait is asked for in slices, so Ctrl-C and a gone engine are noticed
CALL_TIMEOUT_S = 120.0  # no call holds its caller (the GUI thread) longer; a node test's connect is the slowest
CLOSE_ACK_S = 10.0  # how long a leaving client waits for the engine to let it go


class EngineProcessGone(LabDeckError):
    """The catalog's engine process ended without being asked to, or cannot be reached."""


class EngineNoAnswer(LabDeckError):
    """The engine did not answer a call in time (it goes on; the caller stops waiting)."""


def service_argv(data_dir: Path) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG, str(data_dir)]
    return [sys.executable, "-m", "labdeck.engine.service", str(data_dir)]


def start_service(data_dir: Path) -> subprocess.Popen:
    """Start the catalog's engine service, detached from this process (its own session or
    process group, no console); it writes what it has to say to engine.log in the data folder."""
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):  # the service imports the same LabDeck as this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")] if p)
    options: dict = {"start_new_session": True}
    if sys.platform == "win32":
        options = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    return subprocess.Popen(service_argv(data_dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, close_fds=True, **options)


def connect(data_dir: Path, start: bool = True, timeout: float = START_TIMEOUT_S
            ) -> tuple[Connection, engine_files.EngineAddress]:
    """A connection to the catalog's engine service, starting it when none answers."""
    end = time.monotonic() + timeout
    started: subprocess.Popen | None = None
    lost_starts = 0  # engines that found the lock taken
    last_error = "no engine address yet"
    while True:
        info = engine_files.read_address(data_dir)
        if info is not None and info.protocol == PROTOCOL:
            try:
                conn = Client(info.address, authkey=bytes.fromhex(info.authkey))
            except (OSError, EOFError, ValueError) as exc:  # a stale address: its engine ended
                last_error = f"{info.address}: {exc}"
            else:
                _greet(conn, max(1.0, end - time.monotonic()))
                return conn, info
        elif info is not None:
            last_error = f"the engine running has protocol {info.protocol}, this LabDeck speaks {PROTOCOL}"
        if started is None or started.poll() is not None:
            if not start:
                raise EngineProcessGone(f"no LabDeck engine runs for {data_dir} ({last_error})")
            if started is not None and started.returncode == 3:  # another process's engine holds the lock
                lost_starts += 1
                if lost_starts >= 3 and info is None:
                    raise EngineProcessGone(f"another LabDeck process holds the engine of {data_dir} and serves no "
                                            "clients (one started with LABDECK_ENGINE=inprocess?); close it first")
                time.sleep(0.3)  # the winner may still be starting: give it time to write its address
            if started is None or started.returncode == 3:
                started = start_service(data_dir)
            elif looks_full(data_dir):  # the engine could not even write its log: say what the user can fix
                raise DiskFull(f"{disk_full_message(data_dir)}: LabDeck's engine cannot start; free some space "
                               f"(reading the catalog still works)")
            else:
                raise EngineProcessGone(f"LabDeck's engine process did not start (exit code {started.returncode}); "
                                        f"see {paths.engine_log_path(data_dir)}")
        if time.monotonic() > end:
            raise EngineProcessGone(f"LabDeck's engine for {data_dir} did not answer within {timeout:g} s "
                                    f"({last_error}); see {paths.engine_log_path(data_dir)}")
        time.sleep(0.05)


def _greet(conn: Connection, timeout: float) -> None:
    """Say hello with this LabDeck's protocol version; the engine welcomes or refuses it."""
    try:
        protocol.send(conn, Hello(PROTOCOL, os.getpid()))
        if not conn.poll(timeout):
            raise EngineProcessGone(f"LabDeck's engine did not answer a hello within {timeout:g} s")
        answer = protocol.receive(conn)
    except (OSError, EOFError, WireError) as exc:
        conn.close()
        raise EngineProcessGone(f"LabDeck's engine did not take this connection ({exc})") from None
    if isinstance(answer, Refused):
        conn.close()
        raise EngineProcessGone(answer.reason)
    if not isinstance(answer, Welcome):
        conn.close()
        raise EngineProcessGone(f"LabDeck's engine answered a hello with a {type(answer).__name__}")


# ---- the client ------------------------------------------------------------------------


class EngineProcess:
    def __init__(self, data_dir: str | Path | None = None, start_timeout: float = START_TIMEOUT_S):
        self.data_dir = paths.resolve_data_dir(data_dir)
        self.catalog = Catalog(paths.catalog_path(self.data_dir))  # migrates before the engine opens it
        self.bus = EventBus()
        self.nodes = _Calls(self, "nodes")
        self.node_import = _Calls(self, "node_import")
        self.transfers = _TransferCalls(self)
        self.scheduler = _SchedulerCalls(self)
        self.after = _AfterCalls(self)
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future] = {}
        self._send_lock = threading.Lock()
        self._gone: str | None = None
        self._closing = False
        self.call_timeout_s = CALL_TIMEOUT_S
        self._conn, self._info = connect(self.data_dir, timeout=start_timeout)
        self._reader = threading.Thread(target=self._read, daemon=True, name="engine-process-reader")
        self._reader.start()

    # ---- calls ------------------------------------------------------------------------

    def call(self, path: str, *args, **kwargs):
        """``path`` names an Engine method or attribute ("start_job", "nodes.add", "scheduler.running")."""
        if self._gone:
            raise EngineProcessGone(self._gone)
        signature = call_signature(path)
        if signature is None:
            raise LabDeckError(f"'{path}' is not part of LabDeck's engine API")
        named = dict(signature.bind(*args, **kwargs).arguments)  # a wrong call fails here, as a local one would
        call_id, future = next(self._ids), Future[object]()
        frame = protocol.to_frame(Call(call_id, path, named))  # WireError: an argument that cannot cross
        self._waiting[call_id] = future
        try:
            with self._send_lock:
                self._conn.send_bytes(frame)
        except (OSError, EOFError) as exc:
            self._waiting.pop(call_id, None)
            raise EngineProcessGone(self._gone or f"LabDeck's engine process cannot be reached ({exc})") from exc
        try:
            return future.result(self.call_timeout_s)
        except TimeoutError:
            self._waiting.pop(call_id, None)
            raise EngineNoAnswer(f"LabDeck's engine did not answer '{path}' within {self.call_timeout_s:g} s; "
                                 f"it may be busy (see {paths.engine_log_path(self.data_dir)})") from None

    def start_job(self, job_name: str, options: dict[str, str] | None = None, trigger: Trigger = Trigger.MANUAL,
                  targets: str | None = None) -> Run:
        return self.call("start_job", job_name, options, trigger, targets)

    def start_command(self, command: str, targets: str, timeout_s: float | None = None,
                      trigger: Trigger = Trigger.CLI) -> Run:
        return self.call("start_command", command, targets, timeout_s, trigger)

    def start(self, job: Job, options: dict[str, str] | None = None, trigger: Trigger = Trigger.MANUAL,
              targets: str | None = None, extra: dict | None = None) -> Run:
        return self.call("start", job, options, trigger, targets, extra)

    def rerun_failed(self, run_id: int) -> Run:
        return self.call("rerun_failed", run_id)

    def cancel(self, run_id: int, node_name: str | None = None) -> None:
        self.call("cancel", run_id, node_name)

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SLICE_S if end is None else min(WAIT_SLICE_S, max(0.0, end - time.monotonic()))
            if self.call("wait", run_id, left):
                return True
            if end is not None and time.monotonic() >= end:
                return False

    def successor(self, run_id: int, timeout: float | None = 30.0) -> int | None:
        return self.call("successor", run_id, timeout)

    def add_node(self, node: Node, secret: str | None = None, accept_host_key: bool = False,
                 check: bool = True) -> NodeCheck:
        return self.call("add_node", node, secret, accept_host_key, check)

    def node_down(self, name: str) -> str | None:
        return self.call("node_down", name)

    def test_node(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False) -> NodeCheck:
        return self.call("test_node", name, accept_host_key, replace_host_key)

    def start_scheduler(self) -> None:
        self.call("start_scheduler")

    def adopt_detached(self) -> list[int]:
        return self.call("adopt_detached")

    @property
    def pid(self) -> int:
        """The engine service's process id."""
        return self._info.pid

    # ---- events and replies -----------------------------------------------------------

    def _read(self) -> None:
        refused = ""
        while True:
            try:
                message = protocol.receive(self._conn)
            except (OSError, EOFError):
                break
            except (WireError, RecursionError) as exc:  # an engine of another make: stop listening to it
                refused = f" after a message this LabDeck cannot read ({exc})"
                log.error("the engine sent a message this LabDeck cannot read: %s", exc)
                break
            if isinstance(message, EventMessage):
                self.bus.publish(message.event)
            elif isinstance(message, (Result, Error)):
                future = self._waiting.pop(message.id, None)
                if future is None:
                    continue
                if isinstance(message, Result):
                    future.set_result(message.value)
                else:
                    future.set_exception(message.error)
            elif isinstance(message, Refused):
                refused = f": {message.reason}"
                break
        self._gone = (f"LabDeck's engine process (pid {self._info.pid}) stopped{refused} (its log: "
                      f"{paths.engine_log_path(self.data_dir)}). Restart LabDeck: runs launched detached keep going "
                      "on their nodes and are picked up again.")
        for future in list(self._waiting.values()):
            future.set_exception(EngineProcessGone(self._gone))
        self._waiting.clear()
        if not self._closing:
            log.error(self._gone)
            self.bus.publish(Notification("failed", "LabDeck", None, "error", self._gone))

    def close(self, cancel_running: bool = True, stop_engine: bool = False) -> None:
        """Leave the engine. Its runs go on (and the engine with them) unless ``stop_engine``:
        then, when no other process is connected, the engine stops too, cancelling attached
        runs if ``cancel_running`` (``labdeck daemon`` stopping)."""
        if self._closing:
            return
        self._closing = True
        if not self._gone:
            try:
                with self._send_lock:
                    protocol.send(self._conn, Bye(stop_if_alone=stop_engine, cancel_running=cancel_running))
            except (OSError, EOFError):
                pass
        if threading.current_thread() is not self._reader:
            # The engine closes the connection once this client is off its list (and, for
            # ``stop_engine``, once it has stopped): a stop asked by another process right after
            # this returns must find this one gone, or the engine would not be alone and go on.
            self._reader.join(timeout=120 if stop_engine else CLOSE_ACK_S)
        self._conn.close()
        self.transfers.close()
        self.catalog.close()

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Calls:
    def __init__(self, owner: EngineProcess, prefix: str):
        self._owner, self._prefix = owner, prefix

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self._owner.call(f"{self._prefix}.{name}", *args, **kwargs)


class _TransferCalls(_Calls):
    """Transfers run in the engine process; the remote file browser's quick listings use a
    connection of this process (a backend holds a live connection, which cannot be sent)."""

    def __init__(self, owner: EngineProcess):
        super().__init__(owner, "transfers")
        self._pool: ExecutorPool | None = None

    def browser(self, node_name: str):
        from ..executors.pool import ExecutorPool
        from ..executors.transfer_backends import backend_for
        from ..store import secrets as keyring_secrets
        from .hostkeys import CatalogHostKeys
        if self._pool is None:
            owner = self._owner
            self._pool = ExecutorPool(paths.work_dir(owner.data_dir), keyring_secrets.get_secret,
                                      CatalogHostKeys(owner.catalog).check, owner.catalog.get_node)
        return backend_for(self._pool, self._owner.catalog.get_node(node_name))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class _AfterCalls(_Calls):
    def __init__(self, owner: EngineProcess):
        super().__init__(owner, "after")

    def wait_started(self, wait_id: int, timeout: float | None = None):
        """Asked for in slices (a wait may last hours; no call may): the wait once it has left
        the waiting state, or as it is after ``timeout``."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SLICE_S if end is None else min(WAIT_SLICE_S, max(0.0, end - time.monotonic()))
            wait = self._owner.call("after.wait_started", wait_id, left)
            if wait.state != "waiting" or (end is not None and time.monotonic() >= end):
                return wait


class _SchedulerCalls(_Calls):
    def __init__(self, owner: EngineProcess):
        super().__init__(owner, "scheduler")

    @property
    def running(self) -> bool:
        return self._owner.call("scheduler.running")


# ---- the engine's side (frozen builds start it as ``labdeck --engine-process DATA_DIR``) ----


ENGINE_NICENESS = 5


def lower_priority() -> None:
    """The window comes first: the engine works in the background (its own process, so no
    lock is shared and a lower priority cannot hold the window up)."""
    try:
        if sys.platform == "win32":
            import psutil
            psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        else:
            os.nice(ENGINE_NICENESS)
    except (OSError, ImportError) as exc:
        log.info("could not lower the engine process's priority: %s", exc)


def child_main() -> int:
    from .service import main
    return main(sys.argv[2:])
