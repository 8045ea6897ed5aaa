"""The store side of the run timeline (store/attempts.py), on a real catalog file: each attempt
of a retried node run with its times, and the chain of runs one run belongs to (max-runtime
restarts point at the first run, a resume at the run it resumes)."""

from __future__ import annotations

from labdeck.core.models import Trigger
from labdeck.core.status import RunStatus
from labdeck.store.attempts import attempt_ended, attempt_started, attempts_of_runs, run_chain
from labdeck.store.catalog import Catalog


def _run(cat, extra=None, trigger=Trigger.MANUAL, nodes=("n1",)):
    run, node_runs = cat.create_run("job", None, trigger, {}, "n1", list(nodes), lambda r, n: f"/tmp/{r}/{n}.log",
                                    extra=extra)
    return run, node_runs


def test_a_chain_of_restarts_and_a_resume_is_found_from_any_of_its_runs(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    first, _ = _run(cat)
    cat.finish_run(first.id, RunStatus.CANCELLED, "ran longer than its max runtime of 60 s; cancelled and restarted")
    other, _ = _run(cat)                                            # another run in between
    second, _ = _run(cat, {"parent_run_id": first.id, "restarts": 1}, Trigger.RETRY)
    third, _ = _run(cat, {"parent_run_id": first.id, "restarts": 2}, Trigger.RETRY)
    resumed, _ = _run(cat, {"parent_run_id": third.id}, Trigger.RESUME)
    chain = [first.id, second.id, third.id, resumed.id]
    for run_id in chain:
        assert [r.id for r in run_chain(cat, run_id)] == chain
    assert [r.id for r in run_chain(cat, other.id)] == [other.id]
    assert [r.restarts for r in run_chain(cat, first.id)] == [0, 1, 2, 0]
    cat.close()


def test_each_attempt_keeps_its_start_end_and_how_it_ended(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    run, (nr,) = _run(cat)
    untouched, _ = _run(cat)
    attempt_started(cat, nr.id, 1, 100.0)
    attempt_ended(cat, nr.id, 1, 104.5, "failed")
    attempt_started(cat, nr.id, 2, 106.0)
    got = attempts_of_runs(cat, [run.id, untouched.id])
    assert [(a.attempt, a.started_at, a.finished_at, a.status) for a in got[nr.id]] == [
        (1, 100.0, 104.5, "failed"), (2, 106.0, None, "")]
    assert list(got) == [nr.id] and attempts_of_runs(cat, []) == {}
    cat.close()
