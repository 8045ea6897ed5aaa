"""The engine's event bus: subscribers get typed events synchronously on the publishing thread,
so they must be quick (the GUI bridge only queues them for the Qt thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..core.events import Event

log = logging.getLogger(__name__)
Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(event)
            except Exception:  # a broken subscriber must never break a run
                log.exception("event subscriber failed on %r", event)
