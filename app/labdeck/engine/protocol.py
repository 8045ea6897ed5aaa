"""The messages between the catalog's engine service and its clients: typed JSON frames.

Transport: a stream of frames of UTF-8 JSON, each at most ``MAX_FRAME`` bytes
(multiprocessing.connection's ``send_bytes``/``recv_bytes``, after its HMAC challenge on the
address file's key: over a Unix socket a frame is a 4-byte big-endian length and that many
bytes; a Windows named pipe carries each frame as one pipe message). A frame over the limit is
refused before it is read. Nothing is unpickled: the same frames can later be carried over an SSH channel
to serve a lab machine's engine to several desktops (README, "One engine per catalog").

Every frame is one JSON object whose ``type`` names one of the messages below and whose other
keys are exactly that message's fields:

- ``hello`` (client, first): ``protocol``, ``pid``; answered by ``welcome`` (``protocol``,
  ``pid``) or by ``refused`` when the versions differ;
- ``call``: ``id``, ``method`` (an ``EngineApi`` member by path: "start_job", "nodes.add",
  "scheduler.running"), ``args`` (by parameter name); answered by ``result`` (``id``,
  ``value``) or ``error`` (``id``, ``error``: class, message, fields);
- ``event``: ``event`` (a core event), the service's news to every client (a run's output
  coalesced every 50 ms, always before the news that the run finished);
- ``bye`` (client, last): ``stop_if_alone``, ``cancel_running``;
- ``refused``: ``reason``, the service's last word before it closes a connection that broke
  the protocol (bad JSON, an unknown message type or field, a wrong type, an oversized frame).

Values are encoded by engine/wire_values.py: models and events by name, decoded only into the
classes it lists."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from ..core.events import Event
from .wire_values import WireError, decode, decode_error, encode, encode_error

PROTOCOL = 2
MAX_FRAME = 16 * 1024 * 1024  # bytes; a run's output is sent in pieces well below it (OUTPUT_PIECE)
OUTPUT_PIECE = 1 << 20  # characters of output per event frame (at most ~6 bytes each as JSON)


@dataclass(frozen=True)
class Hello:
    protocol: int
    pid: int


@dataclass(frozen=True)
class Welcome:
    protocol: int
    pid: int


@dataclass(frozen=True)
class Call:
    id: int
    method: str
    args: dict = field(default_factory=dict)  # parameter name -> value (decoded)


@dataclass(frozen=True)
class Result:
    id: int
    value: object


@dataclass(frozen=True)
class Error:
    id: int
    error: Exception


@dataclass(frozen=True)
class EventMessage:
    event: Event


@dataclass(frozen=True)
class Bye:
    """The client leaves. ``stop_if_alone``: end the engine too when no other client is
    connected (``labdeck daemon`` stopping), attached runs cancelled if ``cancel_running``."""
    stop_if_alone: bool = False
    cancel_running: bool = True


@dataclass(frozen=True)
class Refused:
    reason: str


MESSAGES: dict[str, type] = {"hello": Hello, "welcome": Welcome, "call": Call, "result": Result, "error": Error,
                             "event": EventMessage, "bye": Bye, "refused": Refused}
_TYPE_OF = {cls: name for name, cls in MESSAGES.items()}
_PLAIN = {"protocol": int, "pid": int, "id": int, "method": str, "stop_if_alone": bool, "cancel_running": bool,
          "reason": str}


def to_frame(message) -> bytes:
    """The frame for ``message``; WireError when a value cannot cross or the frame is too big."""
    data: dict[str, object] = {"type": _TYPE_OF[type(message)]}
    for f in fields(message):
        value = getattr(message, f.name)
        if f.name == "args":
            data["args"] = {k: encode(v) for k, v in value.items()}
        elif f.name == "error":
            data["error"] = encode_error(value)
        elif f.name in ("value", "event"):
            data[f.name] = encode(value)
        else:
            data[f.name] = value
    frame = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(frame) > MAX_FRAME:
        raise WireError(f"a {data['type']} message of {len(frame)} bytes is over the {MAX_FRAME} byte limit")
    return frame


def from_frame(frame: bytes):
    """The message a frame holds; WireError (one line) for anything that is not one."""
    if len(frame) > MAX_FRAME:
        raise WireError(f"a frame of {len(frame)} bytes is over the {MAX_FRAME} byte limit")
    try:
        data = json.loads(bytes(frame).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WireError("a frame that is not UTF-8 JSON (not LabDeck's engine protocol)") from None
    except RecursionError:
        raise WireError("a frame nested too deep") from None
    try:
        return _message(data)
    except RecursionError:
        raise WireError("a frame nested too deep") from None


def _message(data):
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise WireError("a frame without a message type")
    cls = MESSAGES.get(data["type"])
    if cls is None:
        raise WireError(f"unknown message type {data['type']!r}")
    declared = {f.name for f in fields(cls)}
    given = set(data) - {"type"}
    if given - declared:
        raise WireError(f"a {data['type']} message has no field {sorted(given - declared)[0]!r}")
    missing = [f.name for f in fields(cls) if f.name not in given and f.name not in ("args",)]
    if missing:
        raise WireError(f"a {data['type']} message lacks its field {missing[0]!r}")
    values = {}
    for name in given:
        raw = data[name]
        if name in _PLAIN:
            if not isinstance(raw, _PLAIN[name]) or (_PLAIN[name] is int and isinstance(raw, bool)):
                raise WireError(f"{data['type']}.{name} must be a {_PLAIN[name].__name__}")
            values[name] = raw
        elif name == "args":
            if not isinstance(raw, dict):
                raise WireError("call.args must be an object of named arguments")
            values[name] = {k: decode(v, where=f"argument {k!r}") for k, v in raw.items()}
        elif name == "error":
            values[name] = decode_error(raw)
        elif name == "event":
            values[name] = _decode_event(raw)
        else:
            values[name] = decode(raw, where=data["type"])
    return cls(**values)


def _decode_event(raw):
    from ..core.events import Event
    event = decode(raw, where="event")
    if not isinstance(event, Event.__args__):
        raise WireError(f"an event message carries a {type(event).__name__}, not an event")
    return event


def send(conn, message) -> None:
    conn.send_bytes(to_frame(message))


def receive(conn):
    """The next message; WireError for a frame that is not one (the caller closes the connection).
    An oversized frame is refused unread (multiprocessing.connection checks the length prefix)."""
    try:
        frame = conn.recv_bytes(MAX_FRAME)
    except OSError as exc:
        if "bad message length" in str(exc):
            raise WireError(f"a frame over the {MAX_FRAME} byte limit") from None
        raise
    return from_frame(frame)
