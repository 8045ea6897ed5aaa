"""The catalog's engine service: the one process that decides, for a catalog, what runs where
and when. It holds the catalog's engine lock, runs the one ``Engine`` (dispatcher, run queue
and placement, node health, rules and restarts, notifier, and the scheduler once a daemon or
the app asks for it), and serves every other LabDeck process of that catalog — the app,
``labdeck daemon``, each ``labdeck run`` — as clients (engine/engine_process.py) over one
authenticated stream connection (multiprocessing.connection: a Unix socket, or a named pipe on
Windows) carrying engine/protocol.py's typed JSON frames; a client that breaks the protocol is
told why in one line and disconnected, and the others are served on.

It is started on demand by the first process that needs it and lives while a client is
connected or it has work (runs, queued runs, a pending restart, a transfer); after
``LINGER_S`` with neither it ends. So a run, and its max-runtime restarts, outlive the
terminal that started them."""

from __future__ import annotations

import builtins
import logging
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from multiprocessing.connection import Connection, Listener
from pathlib import Path

from ..core.errors import LabDeckError
from ..core.events import NodeRunOutput
from ..store import engine_files, paths
from . import protocol
from .api import call_signature
from .protocol import OUTPUT_PIECE, PROTOCOL, EventMessage
from .wire_values import CLASSES, WireError, conforms, known_class

log = logging.getLogger(__name__)
FLUSH_S = 0.05
LINGER_ENV = "LABDECK_ENGINE_LINGER_S"
LINGER_S = 30.0


class _Client:
    """One connected process: its calls run on a small pool, replies and events go back in order."""

    def __init__(self, service: EngineService, conn: Connection, number: int):
        self.service = service
        self.conn = conn
        self.number = number
        self.send_lock = threading.Lock()
        self.gone = threading.Event()
        self.welcomed = False
        self.calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"engine-client{number}")

    def send(self, message) -> None:
        if self.gone.is_set() or not self.welcomed:
            return
        self._send(message)

    def _send(self, message) -> None:
        try:
            frame = protocol.to_frame(message)
        except WireError as exc:  # a value that cannot cross: the caller gets an error, never silence
            if not isinstance(message, (protocol.Result, protocol.Error)):
                log.warning("an engine message cannot be sent to client %s: %s", self.number, exc)
                return
            frame = protocol.to_frame(protocol.Error(message.id, LabDeckError(f"internal error: {exc}")))
        try:
            with self.send_lock:
                self.conn.send_bytes(frame)
        except (OSError, EOFError, ValueError):
            self.gone.set()

    def serve(self) -> None:
        bye: protocol.Bye | None = None
        while not self.gone.is_set():
            try:
                message = protocol.receive(self.conn)
                if not self.welcomed:
                    self._greet(message)
                    continue
                if isinstance(message, protocol.Bye):
                    bye = message
                    break
                if not isinstance(message, protocol.Call):
                    raise WireError(f"a client may not send a {type(message).__name__} message")
                self.calls.submit(self._run_call, message, self._bound(message))
            except (OSError, EOFError):
                break
            except WireError as exc:  # not the protocol: say why in one line, close; never run any of it
                log.warning("client %s broke the engine protocol (%s); disconnecting it", self.number, exc)
                self._send(protocol.Refused(f"LabDeck's engine refused the connection: {exc}"))
                break
            except Exception:  # noqa: BLE001 - whatever a client sends costs it its connection, never the engine
                log.exception("client %s sent a message the engine could not take; disconnecting it", self.number)
                self._send(protocol.Refused("LabDeck's engine refused the connection: a message it could not read"))
                break
        self.calls.shutdown(wait=bye is not None, cancel_futures=bye is None)
        self.service.client_left(self, bye)

    def _greet(self, message) -> None:
        if not isinstance(message, protocol.Hello):
            raise WireError("the first message must be a hello")
        if message.protocol != protocol.PROTOCOL:
            raise WireError(f"this engine speaks protocol {protocol.PROTOCOL}, the client {message.protocol}; "
                            "restart LabDeck so both are the same version")
        self.welcomed = True
        self._send(protocol.Welcome(protocol.PROTOCOL, os.getpid()))

    def _bound(self, call: protocol.Call) -> dict | None:
        """The call's arguments checked against the API's parameters (None: not an API call,
        which gets an error reply). An unknown or ill-typed argument breaks the protocol."""
        signature = call_signature(call.method)
        if signature is None:
            return None
        try:
            signature.bind(**call.args)
        except TypeError as exc:
            raise WireError(f"{call.method}: {exc}") from None
        hints = _argument_hints(call.method)
        for name, value in call.args.items():
            if not conforms(value, hints.get(name, object)):
                raise WireError(f"{call.method}: argument {name!r} has the wrong type ({type(value).__name__})")
        return call.args

    def _run_call(self, call: protocol.Call, args: dict | None) -> None:
        try:
            if args is None:  # the typed API only, never the engine's insides
                raise LabDeckError(f"'{call.method}' is not part of LabDeck's engine API")
            target = self.service.engine
            for part in call.method.split("."):
                target = getattr(target, part)
            value = target(**args) if callable(target) else target
        except Exception as exc:  # noqa: BLE001 - any error of the call is the client's answer
            self.send(protocol.Error(call.id, exc))
            return
        self.send(protocol.Result(call.id, value))


@cache
def _argument_hints(path: str) -> dict[str, object]:
    """The API's parameter annotations of ``path`` resolved to classes (object where a name is
    not a wire class: such an argument is still decoded only into known classes)."""
    namespace = {name: known_class(name) for name in CLASSES}
    hints = {}
    signature = call_signature(path)
    assert signature is not None  # asked only for calls the API has
    for name, parameter in signature.parameters.items():
        try:
            hints[name] = eval(parameter.annotation, {"__builtins__": builtins}, namespace)  # noqa: S307 - our source
        except Exception:  # noqa: BLE001 - a type-checking-only name (JumpLookup): left unchecked
            hints[name] = object
    return hints


class EngineService:
    def __init__(self, engine, listener: Listener, linger_s: float):
        self.engine = engine
        self.listener = listener
        self.linger_s = linger_s
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._output: dict[tuple, list[str]] = {}
        self._output_lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel_running = False
        self._idle_since: float | None = time.monotonic()
        engine.bus.subscribe(self._on_event)

    # ---- clients ------------------------------------------------------------------------

    def accept_loop(self) -> None:
        number = 0
        while not self._stop.is_set():
            try:
                conn = self.listener.accept()
            except Exception as exc:  # noqa: BLE001 - a client that failed the handshake, or the listener closed
                if self._stop.is_set():
                    return
                log.info("a connection was refused: %s", exc)
                continue
            number += 1
            client = _Client(self, conn, number)
            with self._lock:
                self._clients.append(client)
                self._idle_since = None
            threading.Thread(target=client.serve, daemon=True, name=f"engine-client{number}").start()

    def client_left(self, client: _Client, bye: protocol.Bye | None) -> None:
        client.gone.set()
        # Off the list before the connection closes: the client returns from close() on that EOF,
        # and a stop asked by the next client at once must find this one gone (or it is not alone).
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
            alone = not self._clients
        try:
            client.conn.close()
        except OSError:
            pass
        if bye is not None and bye.stop_if_alone and alone:
            self._cancel_running = bye.cancel_running
            self._stop.set()

    def _clients_now(self) -> list[_Client]:
        with self._lock:
            return list(self._clients)

    # ---- events -------------------------------------------------------------------------

    def _on_event(self, event) -> None:
        if isinstance(event, NodeRunOutput):
            with self._output_lock:
                self._output.setdefault((event.run_id, event.node_run_id, event.node), []).append(event.text)
            return
        self._flush()  # a run's output always arrives before the news that it finished
        for client in self._clients_now():
            client.send(EventMessage(event))

    def _flush(self) -> None:
        with self._output_lock:  # held while sending, so no event overtakes output taken before it
            output, self._output = self._output, {}
            if not output:
                return
            clients = self._clients_now()
            for (run_id, node_run_id, node), chunks in output.items():
                text = "".join(chunks)
                for start in range(0, len(text), OUTPUT_PIECE):  # every frame well below the frame limit
                    message = EventMessage(NodeRunOutput(run_id, node_run_id, node, text[start:start + OUTPUT_PIECE]))
                    for client in clients:
                        client.send(message)

    # ---- life ---------------------------------------------------------------------------

    def run(self) -> None:
        """Until asked to stop, or idle (no client, no work) for the linger time."""
        threading.Thread(target=self.accept_loop, daemon=True, name="engine-accept").start()
        catalog_file = paths.catalog_path(self.engine.data_dir)
        while not self._stop.wait(FLUSH_S):
            self._flush()
            if not catalog_file.exists():  # the data folder was deleted: nothing left to serve
                log.warning("%s is gone; the engine stops", catalog_file)
                break
            if self._clients_now() or self.engine.busy():
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = time.monotonic()
            elif time.monotonic() - self._idle_since >= self.linger_s:
                break
        self._stop.set()

    def close(self) -> None:
        engine_files.remove_address(self.engine.data_dir)  # first: no new client finds a closing engine
        try:
            self.listener.close()
        except OSError:
            pass
        self.engine.close(self._cancel_running)
        self._flush()
        for client in self._clients_now():
            try:
                client.conn.close()
            except OSError:
                pass


def serve(data_dir: str | Path, linger_s: float | None = None) -> int:
    """Run the catalog's engine service in this process; 3 when another process already runs it."""
    from .engine import CatalogOwned, Engine

    data_dir = paths.resolve_data_dir(data_dir)
    try:
        engine = Engine(data_dir)
    except CatalogOwned:
        return 3
    linger = linger_s if linger_s is not None else float(os.environ.get(LINGER_ENV) or LINGER_S)
    authkey = secrets.token_bytes(32)
    listener = Listener(authkey=authkey)
    service = EngineService(engine, listener, linger)
    try:
        engine.take_over()  # before clients can call: what earlier engines left is taken up first
        engine_files.write_address(data_dir, str(listener.address), authkey, PROTOCOL)
        service.run()
    finally:
        service.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m labdeck.engine.service DATA_DIR", file=sys.stderr)
        return 2
    data_dir = paths.resolve_data_dir(argv[0])
    handler = _log_to_engine_log(data_dir)
    try:
        from .engine_process import lower_priority
        lower_priority()
        return serve(data_dir)
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
    sys.exit(main())
