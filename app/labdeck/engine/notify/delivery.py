"""A background sender: each delivery is tried, and on failure retried with exponential backoff,
on one thread that never blocks the engine; a delivery that keeps failing is logged and dropped."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Deliveries:
    def __init__(self, attempts: int = 4, backoff_s: float = 1.0):
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._heap: list[tuple[float, int, int, str, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, what: str, send: Callable[[], None]) -> None:
        with self._cond:
            if self._stopping:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="notify")
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic(), next(self._order), 1, what, send))
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, attempt, what, send = heapq.heappop(self._heap)
                self._busy += 1
            try:
                send()
                log.info("notification delivered: %s", what)
            except Exception as exc:  # noqa: BLE001 - a channel may fail any way; retried, then logged
                if attempt < self.attempts:
                    delay = self.backoff_s * 2 ** (attempt - 1)
                    log.warning("notification %s failed (%s); retry %d in %g s", what, exc, attempt, delay)
                    with self._cond:
                        retry = (time.monotonic() + delay, next(self._order), attempt + 1, what, send)
                        heapq.heappush(self._heap, retry)
                else:
                    log.error("notification %s failed %d times, giving up: %s", what, attempt, exc)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is due now or running (pending retries later than the timeout are dropped)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._busy or (self._heap and self._heap[0][0] <= end):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def close(self, timeout: float = 3.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            dropped = len(self._heap)
            self._heap.clear()
            self._cond.notify_all()
        if dropped:
            log.warning("%d notification(s) not delivered before shutdown", dropped)
