"""The clocks the scheduling code reads and sleeps on, as one object it is given.

``SYSTEM_CLOCK`` is the real one. The scheduler (and the schedule store it writes through)
takes a clock instead of calling ``time`` itself, so a test of schedules can hand it a clock it
moves by hand (tests/support/clock.py) and see a day of fires, a missed night or a suspend in
milliseconds, instead of waiting for them.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """The wall clock (``time``: seconds since the epoch, what fire times are), the monotonic
    clock (``monotonic``: never jumps, stops during a suspend) and sleeping on them."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Sleep until ``event`` is set or ``timeout`` seconds of the monotonic clock have
        passed; True when the event was set."""
        return event.wait(timeout)


SYSTEM_CLOCK = Clock()
