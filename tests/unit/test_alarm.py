"""The scheduler's alarm clock (engine/alarm.py) on a clock the test moves: it rings for each
fire time of a schedule's trigger, at once for one that passed before it was set, never for a
one-off time already gone, and not before the time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from labdeck.engine.alarm import Alarm, next_fire_after
from tests.support.clock import ManualClock
from tests.support.waiting import wait_for

T0 = 1_800_000_000.0


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_next_fire_after_is_strictly_later_and_none_for_a_past_one_off_time():
    every_10 = IntervalTrigger(seconds=10, start_date=_at(T0 + 10), timezone=UTC)
    assert next_fire_after(every_10, _at(T0)) == _at(T0 + 10)
    assert next_fire_after(every_10, _at(T0 + 10)) == _at(T0 + 20)
    once = DateTrigger(run_date=_at(T0 + 5), timezone=UTC)
    assert next_fire_after(once, _at(T0)) == _at(T0 + 5)
    assert next_fire_after(once, _at(T0 + 5)) is None


def test_the_alarm_rings_at_each_fire_and_at_once_for_one_that_passed_before_it_was_set():
    clock = ManualClock(T0)
    rang: list[int] = []
    alarm = Alarm(clock, rang.append, workers=1)
    alarm.start()
    try:
        clock.advance(15)  # the fire at +10 went by before the scheduler had set the alarm
        alarm.set(7, IntervalTrigger(seconds=10, start_date=_at(T0 + 10), timezone=UTC), after=T0)
        wait_for(lambda: rang == [7], timeout=5, what="the ring for the fire at +10")
        clock.advance(4)  # +19
        time.sleep(0.3)
        assert rang == [7], "rang before the next fire time"
        clock.advance(1)  # +20
        wait_for(lambda: rang == [7, 7], timeout=5, what="the ring for the fire at +20")
        alarm.remove(7)
        clock.advance(30)
        time.sleep(0.3)
        assert rang == [7, 7], "rang for a schedule taken off the alarm"
    finally:
        alarm.stop()
