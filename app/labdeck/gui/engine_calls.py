"""Calls to LabDeck's engine from the window: never on the GUI thread.

An engine call may cross to the catalog's engine process, which can be busy or frozen; each
call is bounded by the engine client's own deadline (EngineProcess.call_timeout_s), so
``call_engine`` runs it on a worker, hands its result to ``on_done`` on the GUI thread, and
a failure to ``report`` as one line for the window's banner."""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import LabDeckError
from .workers import run_async


def failure_text(exc: Exception, failure: str = "") -> str:
    return failure + (str(exc) if isinstance(exc, LabDeckError) else f"unexpected {type(exc).__name__}: {exc}")


def call_engine(fn: Callable[[], object], on_done: Callable[[object], None] | None, report: Callable[[str], None],
                failure: str = "") -> None:
    """``fn`` (an engine call) off the GUI thread; ``report`` gets ``failure`` + why, if it fails."""
    run_async(fn, on_done, lambda exc: report(failure_text(exc, failure)))
