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

    def wait_until(self, event: threading.Event, deadline: float) -> bool:
        """Sleep until ``event`` is set or the monotonic clock reaches ``deadline``; True when
        the event was set. A deadline rather than a timeout: time that passed between reading
        the clock and going to sleep is not slept again."""
        return event.wait(max(0.0, deadline - time.monotonic()))


SYSTEM_CLOCK = Clock()
