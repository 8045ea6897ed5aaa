"""The scheduler's alarm clock: one thread that sleeps on the scheduler's clock until the next
fire time of any loaded schedule, then hands each schedule that is due to a small pool of
threads (a slow check of one schedule never delays another's).

It only says "look now". What is due, missed or caught up is decided by the scheduler from the
catalog (engine/scheduler.py), so a ring that comes late, twice, or not at all (a suspend: the
sleep runs on the monotonic clock, which stops) loses nothing; the scheduler's watchdog covers
the last case. Fire times come from the schedules' APScheduler triggers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from ..core.clock import Clock

log = logging.getLogger(__name__)
MAX_SLEEP_S = 60.0  # wake up now and then even with nothing due: a fire time is recomputed on each wake


def next_fire_after(trigger, now: datetime) -> datetime | None:
    """The trigger's first fire time strictly after ``now``; None when it fires no more."""
    after = now + timedelta(microseconds=1)
    t = trigger.get_next_fire_time(None, after)
    while t is not None and t <= now:  # a one-off trigger answers with its (past) time
        following = trigger.get_next_fire_time(t, after)
        if following is None or following <= t:
            return None
        t = following
    return t


class Alarm:
    def __init__(self, clock: Clock, ring: Callable[[int], None], workers: int):
        self._clock = clock
        self._ring = ring
        self._entries: dict[int, tuple[object, datetime | None]] = {}  # schedule id -> (trigger, next fire)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sched-fire")
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sched-alarm")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop ringing and wait for the checks that are going on."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def set(self, schedule_id: int, trigger, after: float) -> None:
        """Ring for the schedule's fires after ``after``: the time up to which its fires were
        handled (not "now", which may already have passed a fire nobody looked at)."""
        with self._lock:
            self._entries[schedule_id] = (trigger, next_fire_after(trigger, datetime.fromtimestamp(after, UTC)))
        self._wake.set()

    def remove(self, schedule_id: int) -> None:
        with self._lock:
            self._entries.pop(schedule_id, None)
        self._wake.set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)

    def _loop(self) -> None:
        while not self._stop.is_set():
            mono = self._clock.monotonic()  # first: time passing before the wall clock is read wakes us early, not late
            now = self._now()
            due: list[int] = []
            with self._lock:
                for sid, (trigger, at) in list(self._entries.items()):
                    if at is not None and at <= now:
                        due.append(sid)
                        self._entries[sid] = (trigger, next_fire_after(trigger, now))
                upcoming = [at for _, at in self._entries.values() if at is not None]
            for sid in due:
                try:
                    self._pool.submit(self._ring, sid)
                except RuntimeError:  # stopping
                    return
            sleep = MAX_SLEEP_S
            if upcoming:
                sleep = min(sleep, max(0.0, (min(upcoming) - now).total_seconds()))
            self._clock.wait_until(self._wake, mono + sleep)
            self._wake.clear()
