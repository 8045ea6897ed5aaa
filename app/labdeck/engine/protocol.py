"""The messages between the catalog's engine service and its clients.

A client sends ``Call``s (an ``EngineApi`` member by path: "start_job", "nodes.add",
"scheduler.running") and one ``Bye`` when it leaves; the service answers each call with one
``Reply`` (the value, or the exception as a LabDeck error) and sends every engine event as an
``EventMessage`` (a run's output coalesced every 50 ms, always before the news that the run
finished). Values are LabDeck's own plain data (core models and events, dataclasses).

The stream is multiprocessing.connection's: length-prefixed messages after an HMAC
challenge on a shared key, over a Unix socket or a Windows named pipe today. Nothing in it is
tied to the socket, so the same stream can later be carried over an SSH channel to serve a
lab machine's engine to several desktops (see the README's "One engine per catalog")."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from ..core.errors import LabDeckError
from ..core.events import Event

PROTOCOL = 1


@dataclass(frozen=True)
class Call:
    id: int
    path: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    id: int
    ok: bool
    value: object


@dataclass(frozen=True)
class EventMessage:
    event: Event


@dataclass(frozen=True)
class Bye:
    """The client leaves. ``stop_if_alone``: end the engine too when no other client is
    connected (``labdeck daemon`` stopping), attached runs cancelled if ``cancel_running``."""
    stop_if_alone: bool = False
    cancel_running: bool = True


def portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling (LabDeck's errors do), else its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - pickling can raise anything; the text always crosses
        return LabDeckError(f"{type(exc).__name__}: {exc}")


def reply_for(call: Call, value) -> Reply:
    """The reply carrying ``value``, or an error saying it cannot cross (a client is never left
    waiting for a reply that cannot be sent)."""
    try:
        pickle.dumps(value)
        return Reply(call.id, True, value)
    except Exception as exc:  # noqa: BLE001 - never leave a client waiting for a reply
        return Reply(call.id, False, LabDeckError(f"internal error: the result of {call.path} cannot cross to "
                                                  f"the client ({exc})"))
