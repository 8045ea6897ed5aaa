"""The engine on this computer's own node: errors the user must see clearly and lose nothing by."""

from __future__ import annotations

import os
import time
import uuid

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import KillState, NodeRunStatus, RunStatus


def test_full_disk_stops_the_command_and_says_why(engine, data_dir):
    marker = f"labdeck-diskfull-{uuid.uuid4().hex[:8]}"
    # The first run's log file is /dev/full: every write fails with "No space left on device".
    log = data_dir / "logs" / "1" / "this-computer.log"
    log.parent.mkdir(parents=True)
    os.symlink("/dev/full", log)
    job = Job(name="chatty", targets="this-computer", steps=[Step(command=f"echo hello; sh -c 'sleep 60; : {marker}'")])
    engine.catalog.add_job(job)
    started = time.monotonic()
    run = engine.start_job("chatty")
    assert run.id == 1
    assert engine.wait(run.id, 30)
    nr = engine.catalog.node_runs(run.id)[0]
    assert time.monotonic() - started < 20
    assert nr.status is NodeRunStatus.ERROR
    assert f"the disk holding {data_dir} is full" in nr.message and "free space there" in nr.message
    assert nr.kill_state is KillState.KILLED
    assert engine.catalog.get_run(run.id).status is RunStatus.FAILED


def test_run_now_obeys_the_jobs_timeout_and_rerun_failed_picks_only_failed_nodes(engine):
    engine.catalog.add_job(Job(name="t", targets="this-computer", steps=[Step(command="sleep 5")],
                               policy=JobPolicy(timeout_s=0.5)))
    run = engine.start_job("t")
    assert engine.wait(run.id, 20)
    assert engine.catalog.node_runs(run.id)[0].status is NodeRunStatus.TIMED_OUT
    again = engine.rerun_failed(run.id)
    assert again.targets == "this-computer" and again.job_name == "t"
    assert engine.wait(again.id, 20)


def test_events_describe_the_run_in_order(engine):
    from labdeck.core.events import NodeRunFinished, NodeRunOutput, NodeRunStarted, RunFinished, RunStarted
    seen = []
    engine.bus.subscribe(seen.append)
    run = engine.start_command("echo one; echo two", "this-computer")
    assert engine.wait(run.id, 20)
    kinds = [type(e) for e in seen]
    assert kinds[0] is RunStarted and kinds[1] is NodeRunStarted and kinds[-1] is RunFinished
    assert kinds[-2] is NodeRunFinished
    assert "".join(e.text for e in seen if isinstance(e, NodeRunOutput)) == "one\ntwo\n"


def test_a_last_line_without_newline_is_in_the_log_when_the_run_has_ended(engine):
    # The log is closed (its held partial line written) before the run is reported finished:
    # a reader woken by the end, or `labdeck logs` right after `labdeck run`, sees the whole output.
    engine.catalog.add_job(Job(name="tail", targets="this-computer", steps=[Step(command="printf 'done: 42'")]))
    for _ in range(20):
        run = engine.start_job("tail")
        assert engine.wait(run.id, 30)
        nr = engine.catalog.node_runs(run.id)[0]
        assert open(nr.log_path, encoding="utf-8").read().endswith("done: 42")
