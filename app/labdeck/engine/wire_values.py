"""LabDeck values as JSON for the engine protocol (engine/protocol.py): encoded by name,
decoded only into the classes listed here, every field checked.

A value on the wire is a JSON null, boolean, number, string or list, or an object with exactly
one tag:

- ``{"$type": "Node", "fields": {...}}``: a dataclass named in ``CLASSES``; decoding refuses an
  unknown name, an unknown or missing field and a field whose value has the wrong type;
- ``{"$enum": "Trigger", "value": "manual"}``: a member of an enum named in ``CLASSES``;
- ``{"$tuple": [...]}``, ``{"$map": {"key": value}}`` (string keys), ``{"$pairs": [[k, v]]}``.

Nothing in a message names a module or a callable: a name is looked up in ``CLASSES`` and a
class is only ever constructed from its fields, so a message cannot make the other side run
code. A class is imported the first time a value of it crosses (a client that never sees a
NodeCheck never imports the node manager)."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import types
import typing
from functools import cache

from ..core.errors import LabDeckError


class WireError(LabDeckError):
    """A message or value that is not LabDeck's engine protocol (the connection is closed)."""


# Every class that may cross, by the name used on the wire. Nested field types are listed too;
# tests/unit/test_engine_protocol.py checks the list is closed under field types and events.
CLASSES: dict[str, str] = {
    # core models
    "Transport": "labdeck.core.models", "StepKind": "labdeck.core.models", "Trigger": "labdeck.core.models",
    "Capacity": "labdeck.core.models", "WinrmSettings": "labdeck.core.models", "SlurmSettings": "labdeck.core.models",
    "Node": "labdeck.core.models", "Step": "labdeck.core.models", "JobOption": "labdeck.core.models",
    "JobPolicy": "labdeck.core.models", "Job": "labdeck.core.models", "Run": "labdeck.core.models",
    "NodeRun": "labdeck.core.models",
    "Resources": "labdeck.core.job_plan", "ArraySpec": "labdeck.core.job_plan", "FlowStep": "labdeck.core.job_plan",
    "Plan": "labdeck.core.job_plan",
    "NodeRunStatus": "labdeck.core.status", "RunStatus": "labdeck.core.status", "KillState": "labdeck.core.status",
    # transfers
    "Direction": "labdeck.core.transfers", "FileOutcome": "labdeck.core.transfers",
    "RemoteEntry": "labdeck.core.transfers", "FileResult": "labdeck.core.transfers",
    "NodeTransferResult": "labdeck.core.transfers",
    "TransferRequest": "labdeck.engine.transfers", "TransferSummary": "labdeck.engine.transfers",
    # events
    "RunStarted": "labdeck.core.events", "NodeRunStarted": "labdeck.core.events",
    "NodeRunOutput": "labdeck.core.events", "NodeRunFinished": "labdeck.core.events",
    "NodeRunStateChanged": "labdeck.core.events", "RunFinished": "labdeck.core.events",
    "NodeSeen": "labdeck.core.events", "Notification": "labdeck.core.events", "PlanProgress": "labdeck.core.events",
    "StepChanged": "labdeck.core.events", "QueueChanged": "labdeck.core.events",
    "TransferQueued": "labdeck.core.transfers", "TransferProgress": "labdeck.core.transfers",
    "TransferNodeFinished": "labdeck.core.transfers", "TransferFinished": "labdeck.core.transfers",
    # results of the engine's parts
    "NodeCheck": "labdeck.engine.nodes", "PreflightCheck": "labdeck.executors.winrm.preflight",
    "ImportPlan": "labdeck.engine.node_import",
    "ImportResult": "labdeck.engine.node_import", "NodeCandidate": "labdeck.importers.candidates",
    "RunWait": "labdeck.store.run_waits",
}

# Errors keep their class across (a caller catches HostKeyUnknown to show the fingerprint);
# another LabDeck error crosses as the nearest of these it derives from.
ERRORS = ("LabDeckError", "NotFound", "InvalidInput", "AlreadyExists", "NodeUnreachable", "AuthenticationFailed",
          "HostKeyUnknown", "HostKeyChanged", "SecretStoreError", "CatalogError")


@cache
def known_class(name: str) -> type:
    module = CLASSES.get(name) if isinstance(name, str) else None
    if module is None:
        raise WireError(f"unknown type {name!r} in an engine message")
    return getattr(importlib.import_module(module), name)


def _wire_name(cls: type) -> str | None:
    name = cls.__name__
    return name if CLASSES.get(name) == cls.__module__ else None


@cache
def _hints(cls: type) -> dict[str, object]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - a hint naming a type-checking-only import: that class's fields go unchecked
        return {}


# ---- encoding -----------------------------------------------------------------------------


def encode(value):
    """``value`` as JSON-ready data; WireError for anything that may not cross."""
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, enum.Enum):
        return value
    wire = getattr(value, "__wire__", None)
    if wire is not None and not isinstance(value, type):  # a class that sends a summary of itself (Transfer)
        value = wire()
    cls = type(value)
    if isinstance(value, enum.Enum):
        if _wire_name(cls) is None:
            raise WireError(f"{cls.__name__} cannot cross to the other LabDeck process")
        return {"$enum": cls.__name__, "value": value.value}
    if dataclasses.is_dataclass(value):
        if _wire_name(cls) is None:
            raise WireError(f"{cls.__name__} cannot cross to the other LabDeck process")
        return {"$type": cls.__name__,
                "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"$map": {k: encode(v) for k, v in value.items()}}
        return {"$pairs": [[encode(k), encode(v)] for k, v in value.items()]}
    raise WireError(f"a {cls.__name__} cannot cross to the other LabDeck process")


def encode_error(exc: BaseException) -> dict:
    """An exception as ``{"class", "message", "fields"}``: its own class when the other side
    knows it, else the nearest LabDeck error it derives from, else LabDeckError with its type."""
    name = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in ERRORS
                 and c.__module__ == "labdeck.core.errors"), None)
    if name is None:
        return {"class": "LabDeckError", "message": f"{type(exc).__name__}: {exc}", "fields": {}}
    fields = {k: v for k, v in vars(exc).items() if isinstance(v, (str, int, float, bool)) or v is None}
    return {"class": name, "message": str(exc), "fields": fields}


# ---- decoding -----------------------------------------------------------------------------


def decode(data, hint: object = object, where: str = "value"):
    """The value ``data`` encodes, checked against ``hint`` (a resolved type annotation)."""
    value = _decode(data, where)
    if not conforms(value, hint):
        raise WireError(f"{where}: expected {_hint_text(hint)}, got {type(value).__name__}")
    return value


def _decode(data, where: str):
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [_decode(v, where) for v in data]
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise WireError(f"{where}: not an engine protocol value")
    if "$type" in data and set(data) == {"$type", "fields"}:
        return _decode_dataclass(data["$type"], data["fields"], where)
    if "$enum" in data and set(data) == {"$enum", "value"}:
        cls = known_class(data["$enum"])
        if not isinstance(cls, type) or not issubclass(cls, enum.Enum):
            raise WireError(f"{where}: {data['$enum']} is not an enum")
        try:
            return cls(data["value"])
        except ValueError:
            raise WireError(f"{where}: {data['value']!r} is not a {cls.__name__}") from None
    if set(data) == {"$tuple"} and isinstance(data["$tuple"], list):
        return tuple(_decode(v, where) for v in data["$tuple"])
    if set(data) == {"$map"} and isinstance(data["$map"], dict):
        return {k: _decode(v, f"{where}.{k}") for k, v in data["$map"].items()}
    if set(data) == {"$pairs"} and isinstance(data["$pairs"], list):
        if not all(isinstance(p, list) and len(p) == 2 for p in data["$pairs"]):
            raise WireError(f"{where}: $pairs holds something other than [key, value] pairs")
        return {_hashable(_decode(k, where), where): _decode(v, where) for k, v in data["$pairs"]}
    raise WireError(f"{where}: unknown tag {sorted(data)[0]!r}")


def _hashable(key, where: str):
    if isinstance(key, (list, dict)):
        raise WireError(f"{where}: a map key must be a plain value")
    return key


def _decode_dataclass(name, fields, where: str):
    cls = known_class(name)
    if not dataclasses.is_dataclass(cls) or not isinstance(fields, dict):
        raise WireError(f"{where}: {name} is not a LabDeck value with fields")
    declared = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - set(declared))
    if unknown:
        raise WireError(f"{where}: {name} has no field {unknown[0]!r}")
    missing = [n for n, f in declared.items() if n not in fields and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise WireError(f"{where}: {name} lacks its field {missing[0]!r}")
    hints = _hints(cls)
    values = {n: decode(v, hints.get(n, object), f"{name}.{n}") for n, v in fields.items()}
    try:
        return cls(**values)  # the class's own checks run as for a value made here
    except (LabDeckError, ValueError, TypeError) as exc:
        raise WireError(f"{where}: {name} refused its fields ({exc})") from None


def conforms(value, hint) -> bool:
    """Whether a decoded value fits a type annotation (unknown shapes of annotation pass)."""
    if hint in (object, typing.Any):
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if hint is None or hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, dict):
        if not isinstance(value, origin):
            return False
        if origin is list and args:
            return all(conforms(v, args[0]) for v in value)
        if origin is dict and len(args) == 2:
            return all(conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items())
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0]) for v in value)
        if origin is tuple and args:
            return len(args) == len(value) and all(conforms(v, a) for v, a in zip(value, args, strict=True))
        return True
    if isinstance(hint, type):
        if hint in (list, tuple, dict, str, bool):
            return isinstance(value, hint)
        if hint.__name__ in CLASSES or issubclass(hint, enum.Enum):
            return isinstance(value, hint)
    return True  # a Protocol, a TypeVar, a forward reference: not checked


def decode_error(data) -> LabDeckError:
    if not isinstance(data, dict) or set(data) != {"class", "message", "fields"}:
        raise WireError("an error reply without class, message and fields")
    name, message, fields = data["class"], data["message"], data["fields"]
    if not isinstance(message, str) or not isinstance(fields, dict):
        raise WireError("an error reply whose message or fields have the wrong type")
    from ..core import errors
    cls = getattr(errors, name) if name in ERRORS else errors.LabDeckError
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    for key, value in fields.items():
        if isinstance(key, str) and not key.startswith("_") and (
                value is None or isinstance(value, (str, int, float, bool))):
            setattr(exc, key, value)
    return exc


def _hint_text(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
