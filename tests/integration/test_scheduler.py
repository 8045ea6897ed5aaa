"""The scheduler in a real engine: fires on time (on the real clock), and on a clock the test
moves (tests/support/clock.py): missed fires while LabDeck is closed, catch-up, overlap policies,
orphans, a suspend; and the max-runtime restart rule."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from labdeck.core.models import Trigger
from labdeck.core.schedules import CatchUp, Schedule, ScheduleKind
from labdeck.core.status import RunStatus
from labdeck.engine.engine import Engine
from tests.support.clock import ManualClock
from tests.support.scheduling import add_job, runs_of
from tests.support.waiting import wait_for


def every(engine, job: str, seconds: float, **kw) -> Schedule:
    return engine.scheduler.store.add(Schedule(job, ScheduleKind.INTERVAL, repr(float(seconds)), **kw))


def test_interval_and_one_off_schedules_fire_within_a_second_of_their_time(data_dir):
    engine = Engine(data_dir, schedule=True)
    try:
        add_job(engine, "tick", "echo tick", overlap="parallel")
        schedule = every(engine, "tick", 1.5)
        from labdeck.core.schedules import parse_at
        at = time.time() + 2.2
        once = engine.scheduler.store.add(Schedule(
            "tick", ScheduleKind.DATE, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                     time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}+00:00"))
        assert abs(parse_at(once.expr).timestamp() - at) < 1e-3
        runs = wait_for(lambda: len(runs_of(engine, "tick")) >= 3 and runs_of(engine, "tick"), timeout=10)
        for run in runs:
            assert run.trigger is Trigger.SCHEDULE and run.status is not RunStatus.MISSED
            assert 0 <= run.started_at - run.scheduled_for < 1.0, run
        assert [r.scheduled_for for r in runs if r.schedule_id == once.id] == [pytest.approx(at, abs=1e-3)]
        interval_fires = [r.scheduled_for - schedule.created_at for r in runs if r.schedule_id == schedule.id]
        assert interval_fires[:2] == pytest.approx([1.5, 3.0], abs=1e-3)
    finally:
        engine.close()


def test_a_cron_schedule_fires_at_its_wall_time_in_its_zone_across_a_dst_change(data_dir):
    # Berlin moves its clocks forward on 2026-03-29: 03:00 is 02:00 UTC the day before, 01:00 UTC
    # that day. A day and a half, an hour at a time, on the test's clock.
    clock = ManualClock(datetime(2026, 3, 27, 23, 0, tzinfo=UTC).timestamp())
    engine = Engine(data_dir, schedule=True, clock=clock)
    try:
        add_job(engine, "nightly", "echo ran")
        engine.scheduler.store.add(Schedule("nightly", ScheduleKind.CRON, "0 3 * * *", tz="Europe/Berlin"))
        expected = [datetime(2026, 3, 28, 2, 0, tzinfo=UTC).timestamp(),
                    datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp()]
        for _ in range(36):
            clock.advance(3600)
            if clock.time() in expected:
                fired = expected.index(clock.time()) + 1
                wait_for(lambda n=fired: len(runs_of(engine, "nightly")) == n, timeout=10, what=f"fire {fired}")
        runs = runs_of(engine, "nightly")
        assert [r.scheduled_for for r in runs] == expected
        assert all(r.status is not RunStatus.MISSED and r.trigger is Trigger.SCHEDULE for r in runs)
        assert all(engine.wait(r.id, 10) for r in runs)
    finally:
        engine.close()


@pytest.mark.parametrize("catch_up, catch_up_runs", [(CatchUp.ONCE, 1), (CatchUp.SKIP, 0)])
def test_fires_missed_while_closed_are_recorded_and_caught_up_per_policy(data_dir, catch_up, catch_up_runs):
    clock = ManualClock()
    engine = Engine(data_dir, schedule=True, miss_grace_s=1.0, clock=clock)
    add_job(engine, "nightly", "echo caught up")
    notes = []
    schedule = every(engine, "nightly", 2.0, catch_up=catch_up)
    engine.close()  # closed across the fires at +2 s and +4 s
    clock.advance(5.5)
    engine = Engine(data_dir, miss_grace_s=1.0, clock=clock)
    engine.bus.subscribe(lambda e: notes.append(e) if type(e).__name__ == "Notification" else None)
    try:
        engine.start_scheduler()
        missed = runs_of(engine, "nightly", RunStatus.MISSED)
        assert [r.scheduled_for - schedule.created_at for r in missed] == pytest.approx([2.0, 4.0], abs=1e-3)
        assert all("LabDeck was not running" in r.note for r in missed)
        assert all(engine.catalog.node_runs(r.id) == [] for r in missed)
        ran = [r for r in runs_of(engine, "nightly") if r.status is not RunStatus.MISSED]
        assert len(ran) == catch_up_runs
        if ran:
            assert "catch-up for 2 missed fire(s)" in ran[0].note and engine.wait(ran[0].id, 10)
        assert [n.kind for n in notes] == ["missed"] and "missed 2 scheduled fire(s)" in notes[0].text
    finally:
        engine.close()


def overlapping_runs(runs) -> int:
    """The most runs that were going at the same moment."""
    edges = sorted([(r.started_at, 1) for r in runs] + [(r.finished_at, -1) for r in runs])
    peak = current = 0
    for _, delta in edges:
        current += delta
        peak = max(peak, current)
    return peak


def _run_overlap(data_dir, tmp_path, overlap: str, after_fire):
    """Fires at +1, +2, +3 and +4 s of a job whose runs go on until the test opens the gate:
    it opens after the third fire (the first run has then overlapped three fires) and each
    run after that ends at once. ``after_fire(engine, n)`` is true once fire n was handled."""
    clock = ManualClock()
    gate = tmp_path / "gate"
    engine = Engine(data_dir, schedule=True, clock=clock)
    try:
        add_job(engine, "slow", f"while [ ! -e {gate} ]; do sleep 0.05; done", overlap=overlap)
        schedule = every(engine, "slow", 1.0)
        for n in (1, 2, 3, 4):
            clock.advance(1.0)
            wait_for(lambda n=n: after_fire(engine, n), timeout=15, what=f"fire {n} handled")
            if n == 3:
                gate.touch()
                wait_for(lambda: not engine.dispatcher.active_run_ids() and not engine.scheduler._queued, timeout=15)
        engine.scheduler.store.set_enabled(schedule.id, False)
        engine.scheduler.sync()
        wait_for(lambda: not engine.dispatcher.active_run_ids() and not engine.scheduler._queued, timeout=15)
        return runs_of(engine, "slow")
    finally:
        engine.close()


def _entries(engine, status: RunStatus | None = None) -> int:
    return len(runs_of(engine, "slow", status))


def test_overlap_skip_records_skipped_fires(data_dir, tmp_path):
    handled = {1: lambda e: _entries(e) == 1, 2: lambda e: _entries(e, RunStatus.SKIPPED) == 1,
               3: lambda e: _entries(e, RunStatus.SKIPPED) == 2, 4: lambda e: _entries(e, RunStatus.SUCCEEDED) == 2}
    runs = _run_overlap(data_dir, tmp_path, "skip", lambda e, n: handled[n](e))
    real = [r for r in runs if r.status is RunStatus.SUCCEEDED]
    skipped = [r for r in runs if r.status is RunStatus.SKIPPED]
    assert len(real) == 2 and len(skipped) == 2 and overlapping_runs(real) == 1
    assert all("was still running" in r.note for r in skipped)


def test_overlap_queue_starts_when_the_previous_run_ends(data_dir, tmp_path):
    handled = {1: lambda e: _entries(e) == 1, 2: lambda e: "slow" in e.scheduler._queued,
               3: lambda e: _entries(e, RunStatus.SKIPPED) == 1, 4: lambda e: _entries(e, RunStatus.SUCCEEDED) == 3}
    runs = _run_overlap(data_dir, tmp_path, "queue", lambda e, n: handled[n](e))
    real = [r for r in runs if r.status is RunStatus.SUCCEEDED]
    skipped = [r for r in runs if r.status is RunStatus.SKIPPED]
    assert overlapping_runs(real) == 1 and len(real) == 2 + (len(real) > 2)
    assert real[1].note == "queued behind the previous run"
    assert real[1].started_at - real[0].finished_at < 0.5
    assert len(real) + len(skipped) == 4 and all("already queued" in r.note for r in skipped)


def test_overlap_parallel_runs_fires_side_by_side(data_dir, tmp_path):
    runs = _run_overlap(data_dir, tmp_path, "parallel", lambda e, n: _entries(e) == n)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * 4
    assert overlapping_runs(runs) >= 2


def test_an_orphaned_run_never_blocks_the_next_fire(data_dir):
    clock = ManualClock()
    engine = Engine(data_dir, schedule=True, clock=clock)
    try:
        add_job(engine, "job", "echo ok")
        orphan = engine.start_job("job")
        assert engine.wait(orphan.id, 10)
        with engine.catalog._tx() as db:  # as if a LabDeck that crashed had left it running
            db.execute("UPDATE runs SET status='running', finished_at=NULL, owner_pid=999999 WHERE id=?", (orphan.id,))
        every(engine, "job", 1.0)
        clock.advance(1.0)
        ran = wait_for(lambda: [r for r in runs_of(engine, "job") if r.trigger is Trigger.SCHEDULE
                                and r.status is not RunStatus.SKIPPED])
        assert ran and engine.catalog.get_run(orphan.id).status is RunStatus.INTERRUPTED
    finally:
        engine.close()


def test_max_runtime_cancels_and_restarts_n_times_then_reports_failure(engine):
    add_job(engine, "hang", "sleep 60", max_runtime_s=0.8, max_restarts=2, notify_on=["failed"])
    failed = []
    engine.bus.subscribe(lambda e: failed.append(e) if type(e).__name__ == "Notification" else None)
    first = engine.start_job("hang")
    chain = wait_for(lambda: (rs := runs_of(engine, "hang")) and rs[-1].status is RunStatus.FAILED and rs, timeout=20)
    time.sleep(1.5)  # nothing starts after the failure
    chain = runs_of(engine, "hang")
    assert [r.status for r in chain] == [RunStatus.CANCELLED, RunStatus.CANCELLED, RunStatus.FAILED]
    assert [r.restarts for r in chain] == [0, 1, 2]
    assert [r.parent_run_id for r in chain] == [None, first.id, first.id]
    assert "restarted (1 of 2)" in chain[0].note and "restarted (2 of 2)" in chain[1].note
    assert "after 2 restart(s)" in chain[2].note
    assert [r.trigger for r in chain] == [Trigger.MANUAL, Trigger.RETRY, Trigger.RETRY]
    for run in chain:
        assert 0.8 <= run.finished_at - run.started_at < 3
    assert [n.kind for n in failed] == ["failed"] and "max runtime" in failed[0].text


def test_a_clock_jump_is_noticed_and_the_fires_it_skipped_are_recorded_as_missed(data_dir):
    # A suspend freezes the process (the alarm, which sleeps on the monotonic clock, rings
    # for nothing) while the wall clock moves on: the clock's jump() is exactly that.
    clock = ManualClock()
    engine = Engine(data_dir, schedule=True, miss_grace_s=1.0, clock=clock)
    try:
        add_job(engine, "nightly", "echo ran")
        at = clock.time() + 1.0
        engine.scheduler.store.add(Schedule(
            "nightly", ScheduleKind.DATE, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                        time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}+00:00"))
        clock.jump(600)  # "asleep" past the fire time and its grace
        assert runs_of(engine, "nightly") == []
        clock.advance(0.5)  # awake: the watchdog's next round sees the jump
        missed = wait_for(lambda: runs_of(engine, "nightly", RunStatus.MISSED), timeout=10)
        assert len(missed) == 1
        assert missed[0].scheduled_for == pytest.approx(at, abs=1e-3)
        assert "the computer was asleep or its clock jumped" in missed[0].note
    finally:
        engine.close()
