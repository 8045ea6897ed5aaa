"""A clock a scheduler test moves by hand (the scheduler takes its clock: core/clock.py).

Time stands still until the test calls ``advance`` (both clocks move, as when time passes) or
``jump`` (only the wall clock moves, as after a suspend or a clock change). A thread sleeping
in ``wait_until`` wakes when its event is set or when the clock has been moved past its deadline.
"""

from __future__ import annotations

import threading
import time

from labdeck.core.clock import Clock

POLL_S = 0.02  # how often a sleeper looks at its event: it may be set by a thread that knows no clock


class ManualClock(Clock):
    def __init__(self, start: float | None = None):
        self._wall = time.time() if start is None else start
        self._mono = 1000.0
        self._moved = threading.Condition()

    def time(self) -> float:
        with self._moved:
            return self._wall

    def monotonic(self) -> float:
        with self._moved:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._moved:
            self._wall += seconds
            self._mono += seconds
            self._moved.notify_all()

    def jump(self, seconds: float) -> None:
        with self._moved:
            self._wall += seconds
            self._moved.notify_all()

    def wait_until(self, event: threading.Event, deadline: float) -> bool:
        with self._moved:
            while not event.is_set() and self._mono < deadline:
                self._moved.wait(POLL_S)
        return event.is_set()
