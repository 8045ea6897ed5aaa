"""The engine protocol (engine/protocol.py): typed JSON frames, never pickle.

Every EngineApi call and every event type crosses a real socket between a real engine service
and a real client and arrives equal; a frame that is not the protocol (garbage, too big, a
pickle, an unknown message type or field) is refused with one line, its connection closed,
nothing of it run, and the service goes on serving its other clients.

The engine behind the service here is a stand-in that records each call and answers with a
value of the call's declared return type: what is under test is what crosses, not what the
engine does with it (tests/integration/test_engine_process.py drives the real engine)."""

from __future__ import annotations

import builtins
import dataclasses
import enum
import json
import pickle
import threading
import types
import typing
from multiprocessing.connection import Client, Listener

import pytest

from labdeck.core.errors import HostKeyUnknown
from labdeck.core.events import Event
from labdeck.engine import protocol
from labdeck.engine.api import call_members, call_signature
from labdeck.engine.bus import EventBus
from labdeck.engine.engine_process import EngineProcess
from labdeck.engine.service import EngineService
from labdeck.engine.transfers import Transfer, TransferSummary
from labdeck.engine.wire_values import CLASSES, known_class
from labdeck.store import engine_files
from tests.support.waiting import wait_for

CLIENT_LOCAL = {"transfers.browser"}  # a live connection of the client's own, never sent


def _namespace() -> dict:
    return {**{name: known_class(name) for name in CLASSES}, "Transfer": Transfer}


def _resolve(annotation: str):
    try:
        return eval(annotation, {"__builtins__": builtins}, _namespace())
    except NameError:
        return None  # JumpLookup, a callable: sent as None


def sample(hint):
    """A value of type ``hint`` with every field filled (so a lost field shows)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)))
    if hint is None or hint is type(None):
        return None
    if hint is bool:
        return True
    if hint is int:
        return 7
    if hint is float:
        return 1.5
    if hint is str:
        return "ö x\n'\""
    if origin is list:
        return [sample(args[0])] if args else [1, "two"]
    if origin is tuple:
        return (sample(args[0]),) if len(args) == 2 and args[1] is Ellipsis else tuple(sample(a) for a in args)
    if origin is dict:
        return {sample(args[0]): sample(args[1])}
    if hint is list:
        return [1, "two", None]
    if hint is dict:
        return {"cpus": 4, "gpus": [{"name": "A100", "memory_mb": 40960}]}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    if hint is Transfer:
        return Transfer(3, sample(known_class("TransferRequest")), ["a", "b"])
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint, localns=_namespace())
        fields = [f for f in dataclasses.fields(hint) if f.init]
        value = hint(**{f.name: sample(hints[f.name]) for f in fields
                        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING})
        for f in fields:  # every other field set too, as far as the class's own checks allow
            try:
                value = dataclasses.replace(value, **{f.name: sample(hints[f.name])})
            except Exception:  # noqa: BLE001 - a choice among names ("ntlm") or a rule between fields
                pass
        return value
    if hint is typing.Any:
        return None
    raise AssertionError(f"no sample for {hint}")


class RecordingEngine:
    """Stand-in engine: records each call by path and answers with a sample of its return type."""

    def __init__(self, data_dir, prefix=""):
        self.data_dir = data_dir
        self.bus = EventBus()
        self.calls: list[tuple[str, dict]] = []
        self._prefix = prefix
        self._root = self

    def busy(self) -> bool:
        return False

    def close(self, cancel_running: bool = True) -> None:
        pass

    def __getattr__(self, name):
        path = f"{self._prefix}{name}"
        if path.rstrip(".") in {"nodes", "node_import", "transfers", "scheduler", "after"}:
            part = RecordingEngine(self.data_dir, f"{path}.")
            part.calls, part._root = self.calls, self._root
            return part
        member = call_members()[path]
        if isinstance(member, property):
            self.calls.append((path, {}))
            return sample(_resolve(member.fget.__annotations__["return"]))

        def call(**kwargs):
            self.calls.append((path, kwargs))
            if kwargs.get("name") == "raise-host-key":
                raise HostKeyUnknown("n1", "SHA256:abc", "ssh-ed25519", "AAAA")
            return sample(_resolve(member.__annotations__.get("return", "None")))
        return call


@pytest.fixture
def service(data_dir):
    engine = RecordingEngine(data_dir)
    authkey = b"k" * 32
    listener = Listener(authkey=authkey)
    served = EngineService(engine, listener, linger_s=3600)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    engine_files.write_address(data_dir, str(listener.address), authkey, protocol.PROTOCOL)
    yield engine, served, listener.address, authkey
    served._stop.set()
    thread.join(10)
    served.close()


@pytest.fixture
def client(service, data_dir):
    proc = EngineProcess(data_dir)
    yield proc
    proc.close()


def _api_calls():
    return sorted(path for path in call_members() if path not in CLIENT_LOCAL)


@pytest.mark.parametrize("path", _api_calls())
def test_every_engine_api_call_crosses_the_socket_intact(service, client, path):
    engine = service[0]
    signature = call_signature(path)
    args = {name: sample(_resolve(p.annotation)) for name, p in signature.parameters.items()}
    value = client.call(path, **args)
    assert engine.calls == [(path, args)]
    member = call_members()[path]
    returns = member.fget.__annotations__["return"] if isinstance(member, property) \
        else member.__annotations__.get("return", "None")
    expected = sample(_resolve(returns))
    if isinstance(expected, Transfer):  # sent as its summary: threads and events stay in the engine
        expected = TransferSummary(expected.id, expected.request, expected.nodes)
    assert value == expected
    assert type(value) is type(expected)


def test_errors_cross_with_their_class_and_fields(service, client):
    with pytest.raises(HostKeyUnknown) as raised:
        client.call("nodes.test", "raise-host-key")
    assert (raised.value.node, raised.value.fingerprint, raised.value.key_type) == ("n1", "SHA256:abc", "ssh-ed25519")
    assert "labdeck node test n1 --accept-host-key" in str(raised.value)


@pytest.mark.parametrize("event_type", typing.get_args(Event), ids=lambda t: t.__name__)
def test_every_event_type_crosses_the_socket_intact(service, client, event_type):
    engine = service[0]
    got = []
    client.bus.subscribe(got.append)
    event = sample(event_type)
    engine.bus.publish(event)
    wait_for(lambda: got, timeout=20, what=f"{event_type.__name__} to arrive")
    assert got == [event]


# ---- frames that are not the protocol ------------------------------------------------------


def _raw(address, authkey, hello=True):
    conn = Client(address, authkey=authkey)
    if hello:
        protocol.send(conn, protocol.Hello(protocol.PROTOCOL, 1))
        assert isinstance(protocol.receive(conn), protocol.Welcome)
    return conn


def _refusal(conn) -> str:
    assert conn.poll(20), "the service neither refused nor closed"
    message = json.loads(conn.recv_bytes())
    assert message["type"] == "refused"
    assert conn.poll(20), "the service did not close the connection"
    with pytest.raises(EOFError):
        conn.recv_bytes()
    return message["reason"]


class _Boom:
    def __reduce__(self):
        return (open, ("/nonexistent-dir/should-never-be-created", "w"))


BAD_FRAMES = {
    "garbage": (b"\x00\xffnot json at all", "not UTF-8 JSON"),
    "pickle": (pickle.dumps(_Boom()), "not UTF-8 JSON"),
    "unknown type": (json.dumps({"type": "exec", "code": "print(1)"}).encode(), "unknown message type 'exec'"),
    "unknown field": (json.dumps({"type": "bye", "stop_if_alone": True, "cancel_running": True,
                                  "and_then": "rm"}).encode(), "no field 'and_then'"),
    "unknown value class": (json.dumps({"type": "call", "id": 1, "method": "start", "args": {
        "job": {"$type": "os.system", "fields": {"command": "touch /tmp/x"}}}}).encode(), "unknown type 'os.system'"),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    "a value nested too deep": (json.dumps({"type": "call", "id": 1, "method": "cancel", "args": {
        "run_id": 1, "node_name": json.loads("[" * 900 + "]" * 900)}}).encode(), "node_name"),
    "unknown argument": (json.dumps({"type": "call", "id": 1, "method": "cancel",
                                     "args": {"run_id": 1, "shell": "rm"}}).encode(), "unexpected keyword"),
    "ill-typed argument": (json.dumps({"type": "call", "id": 1, "method": "cancel",
                                       "args": {"run_id": "1; rm"}}).encode(), "'run_id' has the wrong type"),
}


@pytest.mark.parametrize("kind", list(BAD_FRAMES))
def test_a_frame_that_is_not_the_protocol_is_refused_and_others_are_served_on(service, client, kind):
    engine, _, address, authkey = service
    frame, reason = BAD_FRAMES[kind]
    bad = _raw(address, authkey)
    bad.send_bytes(frame)
    assert reason in _refusal(bad)
    assert engine.calls == []  # nothing of it ran
    client.call("cancel", 5)  # the other client is served on
    assert engine.calls == [("cancel", {"run_id": 5})]


def test_an_oversized_frame_is_refused_unread(service, client, caplog):
    engine, _, address, authkey = service
    bad = _raw(address, authkey)
    sender = threading.Thread(target=lambda: _send_quietly(bad, b" " * (protocol.MAX_FRAME + 1)), daemon=True)
    sender.start()
    try:  # the refusal may be lost: closing a socket with unread bytes in it resets the connection
        assert "over the 16777216 byte limit" in _refusal(bad)
    except ConnectionResetError:
        pass
    wait_for(lambda: "over the 16777216 byte limit" in caplog.text, timeout=20, what="the refusal in the log")
    client.call("cancel", 6)
    assert engine.calls == [("cancel", {"run_id": 6})]


def _send_quietly(conn, frame: bytes) -> None:
    try:
        conn.send_bytes(frame)
    except OSError:
        pass  # the service closed the connection before reading it all


def test_a_client_of_another_protocol_version_is_told_to_restart(service):
    _, _, address, authkey = service
    conn = Client(address, authkey=authkey)
    conn.send_bytes(json.dumps({"type": "hello", "protocol": 1, "pid": 1}).encode())
    assert "restart LabDeck" in _refusal(conn)


def test_a_call_before_the_hello_is_refused(service):
    engine, _, address, authkey = service
    conn = _raw(address, authkey, hello=False)
    conn.send_bytes(json.dumps({"type": "call", "id": 1, "method": "cancel", "args": {"run_id": 1}}).encode())
    assert "hello" in _refusal(conn)
    assert engine.calls == []


def test_a_node_checks_preflight_results_cross_as_themselves():
    """NodeCheck.checks is an untyped list: a WinRM or Slurm node's PreflightChecks must still cross."""
    from labdeck.engine.nodes import NodeCheck
    from labdeck.executors.winrm.preflight import PreflightCheck
    check = NodeCheck("win1", True, {"cpus": 4}, None, "ok",
                      [PreflightCheck("MaxShellsPerUser", "5", False, "Set-Item WSMan:\\localhost\\Shell\\X 30")])
    assert protocol.from_frame(protocol.to_frame(protocol.Result(1, check))).value == check


def test_the_wire_class_list_is_closed_under_field_types():
    """Every dataclass or enum a wire class's fields name is a wire class too."""
    missing = set()
    for name in CLASSES:
        cls = known_class(name)
        if not dataclasses.is_dataclass(cls):
            continue
        for hint in typing.get_type_hints(cls, localns=_namespace()).values():
            stack = [hint]
            while stack:
                h = stack.pop()
                stack.extend(typing.get_args(h))
                if isinstance(h, type) and (dataclasses.is_dataclass(h) or issubclass(h, enum.Enum)) \
                        and CLASSES.get(h.__name__) != h.__module__:
                    missing.add(f"{h.__module__}.{h.__name__}")
    assert not missing
