"""The one way tests wait for something to happen: poll a predicate until it gives a truthy
value (returned) or the time is up (AssertionError naming what did not happen)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for[T](predicate: Callable[[], T], timeout: float = 30.0, what: str = "the condition",
                step: float = 0.05) -> T:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)
