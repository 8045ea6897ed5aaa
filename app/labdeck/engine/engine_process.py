"""The engine in a child process beside the desktop app.

Every SSH packet costs Python time in the engine's threads (paramiko's reader, the drain
loop, the log writer); in the app's own process that time competes with the GUI thread for
the interpreter lock, and the window stutters while ten nodes stream output. So the app
starts ``Engine`` in a child process and talks to it through ``EngineProcess``, which looks
like an Engine to the GUI: its own ``catalog`` on the same SQLite file (reads and simple
edits), a local ``bus`` fed with the child's events, and the engine's operations (start,
cancel, nodes, scheduler) as calls over an authenticated local connection
(multiprocessing.connection: a Unix socket, or a named pipe on Windows).

The child sends a run's output coalesced every 50 ms, and ends (closing its Engine: attached
commands cancelled, detached ones left running) when the app closes it or goes away.

The child has no console (a windowed app has none to give it): it starts with its standard
streams on DEVNULL and writes its warnings, errors and a crash's traceback to its own log,
``engine.log`` in the data folder; when it fails to start, the error names that log."""

from __future__ import annotations

import itertools
import json
import logging
import os
import pickle
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import LabDeckError
from ..core.events import Notification, NodeRunOutput
from ..core.models import Job, Node, Run, Trigger
from ..store import paths
from ..store.catalog import Catalog
from .bus import EventBus

if TYPE_CHECKING:
    from .nodes import NodeCheck

log = logging.getLogger(__name__)
CHILD_FLAG = "--engine-process"
FLUSH_S = 0.05
START_TIMEOUT_S = 60.0


class EngineProcessGone(LabDeckError):
    """The child process running the engine ended without being asked to."""


def child_argv() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-m", "labdeck.engine.engine_process"]


# ---- the app's side --------------------------------------------------------------------


class EngineProcess:
    def __init__(self, data_dir: str | Path | None = None, start_timeout: float = START_TIMEOUT_S):
        self.data_dir = paths.resolve_data_dir(data_dir)
        self.catalog = Catalog(paths.catalog_path(self.data_dir))  # migrates before the child opens it
        self.bus = EventBus()
        self.nodes = _Calls(self, "nodes")
        self.node_import = _Calls(self, "node_import")
        self.transfers = _TransferCalls(self)
        self.scheduler = _SchedulerCalls(self)
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future] = {}
        self._send_lock = threading.Lock()
        self._gone: str | None = None
        self._closing = False
        authkey = secrets.token_bytes(32)
        listener = Listener(authkey=authkey)
        env = dict(os.environ)
        if not getattr(sys, "frozen", False):  # the child imports the same LabDeck as this process
            env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).parents[2]),
                                                            os.environ.get("PYTHONPATH", "")] if p)
        self.log_path = paths.engine_log_path(self.data_dir)
        flags = subprocess.CREATE_NO_WINDOW if sys.platform == "win32" else 0
        self._proc = subprocess.Popen(child_argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env, creationflags=flags)
        hello = {"address": listener.address, "authkey": authkey.hex(), "data_dir": str(self.data_dir)}
        self._proc.stdin.write(json.dumps(hello).encode() + b"\n")
        self._proc.stdin.close()
        self._conn = self._accept(listener, start_timeout)
        self._reader = threading.Thread(target=self._read, daemon=True, name="engine-process-reader")
        self._reader.start()

    def _accept(self, listener: Listener, timeout: float) -> Connection:
        accepted: list[Connection] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
        thread.start()
        end = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < end and self._proc.poll() is None:
            thread.join(0.05)
        listener.close()
        if not accepted:
            self._proc.kill()
            raise EngineProcessGone(f"LabDeck's engine process did not start (exit code {self._proc.poll()}); "
                                    f"what went wrong is in its log, {self.log_path}")
        return accepted[0]

    # ---- calls ------------------------------------------------------------------------

    def call(self, path: str, *args, **kwargs):
        """``path`` names an Engine method or attribute ("start_job", "nodes.add", "scheduler.running")."""
        if self._gone:
            raise EngineProcessGone(self._gone)
        call_id, future = next(self._ids), Future()
        self._waiting[call_id] = future
        try:
            with self._send_lock:
                self._conn.send(("call", call_id, path, args, kwargs))
        except (OSError, EOFError) as exc:
            self._waiting.pop(call_id, None)
            raise EngineProcessGone(self._gone or f"LabDeck's engine process cannot be reached ({exc})") from exc
        return future.result()

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
        return self.call("wait", run_id, timeout)

    def add_node(self, node: Node, secret: str | None = None, accept_host_key: bool = False,
                 check: bool = True) -> NodeCheck:
        return self.call("add_node", node, secret, accept_host_key, check)

    def test_node(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False) -> NodeCheck:
        return self.call("test_node", name, accept_host_key, replace_host_key)

    def start_scheduler(self) -> None:
        self.call("start_scheduler")

    def adopt_detached(self) -> list[int]:
        return self.call("adopt_detached")

    @property
    def pid(self) -> int:
        return self._proc.pid

    # ---- events and replies -----------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (OSError, EOFError):
                break
            if message[0] == "event":
                self.bus.publish(message[1])
            elif message[0] == "reply":
                _, call_id, ok, value = message
                future = self._waiting.pop(call_id, None)
                if future is not None:
                    future.set_exception(value) if not ok else future.set_result(value)
        code = self._proc.wait()
        self._gone = (f"LabDeck's engine process stopped (exit code {code}; its log: {self.log_path}). Restart "
                      "LabDeck: runs launched detached keep going on their nodes and are picked up again.")
        for future in list(self._waiting.values()):
            future.set_exception(EngineProcessGone(self._gone))
        self._waiting.clear()
        if not self._closing:
            log.error(self._gone)
            self.bus.publish(Notification("failed", "LabDeck", None, "error", self._gone))

    def close(self, cancel_running: bool = True) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            if not self._gone:
                self.call("close", cancel_running)
        except EngineProcessGone:
            pass
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
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
        self._pool = None

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


class _SchedulerCalls(_Calls):
    def __init__(self, owner: EngineProcess):
        super().__init__(owner, "scheduler")

    @property
    def running(self) -> bool:
        return self._owner.call("scheduler.running")


# ---- the child's side ------------------------------------------------------------------


class _Host:
    """Serves one app: runs its calls on a small pool, sends the engine's events back."""

    def __init__(self, engine, conn: Connection):
        self.engine = engine
        self.conn = conn
        self._send_lock = threading.Lock()
        self._output: dict[tuple, list[str]] = {}
        self._output_lock = threading.Lock()
        self._calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="engine-call")
        self._stop = threading.Event()
        engine.bus.subscribe(self._on_event)
        threading.Thread(target=self._flush_loop, daemon=True, name="engine-output").start()

    def _send(self, message) -> None:
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, EOFError):
            self._stop.set()

    def _on_event(self, event) -> None:
        if isinstance(event, NodeRunOutput):
            with self._output_lock:
                self._output.setdefault((event.run_id, event.node_run_id, event.node), []).append(event.text)
            return
        self._flush()  # a run's output always arrives before the news that it finished
        self._send(("event", event))

    def _flush(self) -> None:
        with self._output_lock:  # held while sending, so no event overtakes output taken before it
            output, self._output = self._output, {}
            for (run_id, node_run_id, node), chunks in output.items():
                self._send(("event", NodeRunOutput(run_id, node_run_id, node, "".join(chunks))))

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self._flush()

    def _run_call(self, call_id: int, path: str, args, kwargs) -> None:
        try:
            target = self.engine
            for part in path.split("."):
                target = getattr(target, part)
            value = target(*args, **kwargs) if callable(target) else target
        except Exception as exc:
            self._send(("reply", call_id, False, _portable(exc)))
            return
        try:
            pickle.dumps(value)
        except Exception as exc:  # never leave the app waiting for a reply that cannot be sent
            value = LabDeckError(f"internal error: the result of {path} cannot cross to the app ({exc})")
            self._send(("reply", call_id, False, value))
            return
        self._send(("reply", call_id, True, value))

    def serve(self) -> None:
        close_id, cancel_running = None, True
        while not self._stop.is_set():
            try:
                message = self.conn.recv()
            except (OSError, EOFError):
                break  # the app went away
            _, call_id, path, args, kwargs = message
            if path == "close":
                close_id, cancel_running = call_id, bool(args[0]) if args else True
                break
            self._calls.submit(self._run_call, call_id, path, args, kwargs)
        self._calls.shutdown(wait=False, cancel_futures=True)
        self.engine.close(cancel_running)
        self._stop.set()
        self._flush()
        if close_id is not None:
            self._send(("reply", close_id, True, None))


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling (LabDeck's errors do), else its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return LabDeckError(f"{type(exc).__name__}: {exc}")


ENGINE_NICENESS = 5


def _lower_priority() -> None:
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
    hello = json.loads(sys.stdin.readline())
    handler = _log_to_engine_log(Path(hello["data_dir"]))
    try:
        _lower_priority()
        from .engine import Engine
        engine = Engine(hello["data_dir"])  # first: if it cannot start, the app sees this process end
        conn = Client(hello["address"], authkey=bytes.fromhex(hello["authkey"]))
        _Host(engine, conn).serve()
        conn.close()
        return 0
    except BaseException:
        log.exception("the engine process failed")
        return 1
    finally:
        handler.flush()


def _log_to_engine_log(data_dir: Path):
    """Warnings, errors and tracebacks into engine.log; a hard crash (faulthandler) too."""
    import faulthandler

    from ..store.log_files import add_file_log
    handler = add_file_log(paths.engine_log_path(data_dir))
    # faulthandler needs a file it can keep open (engine.log itself must stay free to rotate)
    crash = open(data_dir / "engine-crash.log", "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    faulthandler.enable(file=crash)
    return handler


if __name__ == "__main__":
    sys.exit(child_main())
