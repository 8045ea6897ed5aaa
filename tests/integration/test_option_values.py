"""Large option values and commands on this computer's node: refused with one clear line where
they enter (a job file, a run's values), and a command line the OS cannot take is a clear
node-run error instead of an internal error with a traceback."""

from __future__ import annotations

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Job, JobOption, Step
from labdeck.core.status import NodeRunStatus, RunStatus
from labdeck.store.jobfile import job_from_yaml

MEGABYTE = "a" * 1_000_000


def test_a_megabyte_option_value_is_refused_when_the_run_starts(engine):
    engine.catalog.add_job(Job(name="big", targets="this-computer", steps=[Step(command="echo ${option.v} | wc -c")],
                               options=[JobOption(name="v", default="x")]))
    with pytest.raises(InvalidInput) as caught:
        engine.start_job("big", {"v": MEGABYTE})
    assert str(caught.value) == ("job 'big': option 'v' is 1,000,000 bytes long; a value may be at most 32,768 bytes "
                                 "(put large data in a file and pass its path)")
    assert engine.catalog.list_runs() == []


def test_a_value_at_the_limit_reaches_the_command(engine):
    engine.catalog.add_job(Job(name="fits", targets="this-computer", steps=[Step(command="printf %s ${option.v} | wc -c")],
                               options=[JobOption(name="v")]))
    run = engine.start_job("fits", {"v": "b" * 32 * 1024})
    assert engine.wait(run.id, 30)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    log = engine.catalog.node_runs(run.id)[0].log_path
    assert open(log).read().strip() == str(32 * 1024)


def test_a_megabyte_default_in_a_job_file_is_refused_at_import():
    text = f"name: big\ntargets: all\nsteps: [echo]\noptions: [{{name: v, default: {MEGABYTE}}}]\n"
    with pytest.raises(InvalidInput) as caught:
        job_from_yaml(text, source="big.yaml")
    assert str(caught.value) == ("big.yaml: job 'big': options[0].default: is 1,000,000 bytes long; a value may be "
                                 "at most 32,768 bytes (put large data in a file and pass its path)")


def test_many_values_that_fit_one_by_one_but_not_together_are_refused(engine):
    options = [JobOption(name=f"v{i}") for i in range(9)]
    engine.catalog.add_job(Job(name="many", targets="this-computer", steps=[Step(command="true")], options=options))
    with pytest.raises(InvalidInput) as caught:
        engine.start_job("many", {f"v{i}": "c" * 32 * 1024 for i in range(9)})
    assert str(caught.value) == ("job 'many': the option values total 294,912 bytes; together they may be at most "
                                 "262,144 bytes (put large data in files and pass their paths)")
    assert engine.catalog.list_runs() == []


def test_an_environment_the_os_cannot_take_fails_its_node_run_clearly(engine, monkeypatch):
    # Long commands travel as script files now; what can still overflow is the environment, here
    # a variable of the controller's own over Linux's 128 KiB per variable.
    monkeypatch.setenv("LABDECK_TEST_HUGE", "x" * 200_000)
    engine.catalog.add_job(Job(name="env", targets="this-computer", steps=[Step(command="true")]))
    run = engine.start_job("env")
    assert engine.wait(run.id, 30)
    node_run = engine.catalog.node_runs(run.id)[0]
    assert node_run.status is not NodeRunStatus.SUCCEEDED
    assert "too long for this computer's command line" in node_run.message, node_run.message
    assert "internal error" not in node_run.message


def test_a_job_stored_with_a_bad_value_before_the_schema_is_refused_at_start(engine, data_dir):
    import json
    import sqlite3
    engine.catalog.add_job(Job(name="old", targets="this-computer", steps=[Step(command="true")]))
    with sqlite3.connect(data_dir / "catalog.sqlite") as db:  # as an import before the schema could leave it
        db.execute("UPDATE jobs SET policy = ? WHERE name = 'old'", (json.dumps({"retries": "abc"}),))
    with pytest.raises(InvalidInput) as caught:
        engine.start_job("old")
    assert str(caught.value).startswith("job 'old': policy.retries: must be a whole number, got 'abc' (correct it: "
                                        "labdeck job export old > job.yaml")
    assert engine.catalog.list_runs() == []
