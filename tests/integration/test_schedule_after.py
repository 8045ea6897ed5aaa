"""A schedule's ``after:`` with real runs on this computer, on a clock the test moves: a fire
while the other job runs waits for that run (shown as waiting), then starts; with after_ok a
fire after a failed run is recorded as skipped."""

from __future__ import annotations

import json
import time

from labdeck.core.errors import InvalidInput
from labdeck.core.schedules import Schedule, ScheduleKind
from labdeck.core.status import RunStatus
from labdeck.engine.engine import Engine
from labdeck.store import run_waits
from tests.support.cli import labdeck
from tests.support.clock import ManualClock
from tests.support.scheduling import add_job, runs_of
from tests.support.waiting import wait_for


def test_a_fire_waits_for_the_other_jobs_run_then_starts(data_dir, tmp_path):
    clock = ManualClock()
    engine = Engine(data_dir, schedule=True, clock=clock)
    gate = tmp_path / "gate"
    try:
        add_job(engine, "train", f"while [ ! -e {gate} ]; do sleep 0.05; done")  # until the test opens the gate
        add_job(engine, "evaluate", "echo evaluating")
        train = engine.start_job("train")
        schedule = engine.scheduler.store.add(Schedule("evaluate", ScheduleKind.INTERVAL, "1.5", after_job="train"))
        engine.scheduler.sync()
        clock.advance(1.5)
        waits = wait_for(lambda: run_waits.waiting(engine.catalog), timeout=10)
        assert waits[0].after_run_id == train.id and waits[0].schedule_id == schedule.id
        engine.scheduler.store.set_enabled(schedule.id, False)
        engine.scheduler.sync()
        assert not runs_of(engine, "evaluate") and not engine.catalog.get_run(train.id).status.is_final
        gate.touch()
        assert engine.wait(train.id, 30)
        evaluated = wait_for(lambda: [r for r in runs_of(engine, "evaluate") if r.status is RunStatus.SUCCEEDED],
                             timeout=15)
        train_run = engine.catalog.get_run(train.id)
        assert evaluated[0].started_at >= train_run.finished_at  # not before train ended
        assert evaluated[0].schedule_id == schedule.id and f"after run {train.id}" in evaluated[0].note
    finally:
        engine.close()


def test_after_ok_skips_a_fire_when_the_other_jobs_last_run_failed(data_dir):
    clock = ManualClock()
    engine = Engine(data_dir, schedule=True, clock=clock)
    try:
        add_job(engine, "train", "exit 1")
        add_job(engine, "evaluate", "echo evaluating")
        assert engine.wait(engine.start_job("train").id, 30)
        schedule = engine.scheduler.store.add(Schedule("evaluate", ScheduleKind.INTERVAL, "1", after_job="train",
                                                       after_ok=True))
        engine.scheduler.sync()
        clock.advance(1)
        skipped = wait_for(lambda: runs_of(engine, "evaluate", RunStatus.SKIPPED), timeout=10)
        assert "the last run of train" in skipped[0].note and "had to succeed" in skipped[0].note
        engine.scheduler.store.set_enabled(schedule.id, False)
        engine.scheduler.sync()
        time.sleep(0.5)
        assert not runs_of(engine, "evaluate", RunStatus.SUCCEEDED)
    finally:
        engine.close()


def test_schedule_add_after_on_the_command_line(data_dir):
    added = labdeck(data_dir, "schedule", "add", "hello", "--cron", "0 3 * * *", "--after", "hello")
    assert added.returncode == 2 and "cannot wait for the job itself" in added.stderr
    assert labdeck(data_dir, "job", "add", "train", "--command", "true", "--targets", "this-computer").returncode == 0
    added = labdeck(data_dir, "schedule", "add", "hello", "--cron", "0 3 * * *", "--after", "train", "--after-ok")
    assert added.returncode == 0, added.stderr
    assert "after train succeeds" in added.stdout
    (listed,) = json.loads(labdeck(data_dir, "schedule", "list", "--json").stdout)["schedules"]
    assert (listed["after"], listed["after_ok"]) == ("train", True)
    missing = labdeck(data_dir, "schedule", "add", "hello", "--cron", "0 3 * * *", "--after", "nope")
    assert missing.returncode == 2 and "no job named 'nope'" in missing.stderr


def test_after_ok_alone_is_refused(engine):
    import pytest
    with pytest.raises(InvalidInput, match="after_ok needs after"):
        engine.scheduler.store.add(Schedule("hello", ScheduleKind.INTERVAL, "60", after_ok=True))
