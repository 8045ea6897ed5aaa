"""Job references on real nodes: a step ``job: OTHER`` runs the other job as a child run
(its own targets and policy, the step's options), in order with the job's own steps; a
failure stops the chain; cancelling the parent cancels the child; loops are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.status import RunStatus
from labdeck.store.jobfile import job_from_yaml
from tests.conftest import add_sshd_node
from tests.integration.test_cli import add_node, labdeck


def _log(catalog, run_id: int) -> str:
    return "".join(Path(nr.log_path).read_text() for nr in catalog.node_runs(run_id))


def _add(engine, text: str):
    return engine.catalog.add_job(job_from_yaml(text))


def test_a_referenced_job_runs_as_a_child_on_its_own_targets_with_the_steps_options(engine, sshd_node):
    add_sshd_node(engine, sshd_node, name="gpu1")
    _add(engine, "name: prepare\ntargets: gpu1\noptions: [{name: n, default: '1'}]\n"
                 "steps: ['echo \"prepare n=${option.n} on $LABDECK_NODE\"']\n")
    _add(engine, "name: pipeline\ntargets: this-computer\noptions: [{name: count, default: '2'}]\nsteps:\n"
                 "  - echo start on $LABDECK_NODE\n"
                 "  - {job: prepare, options: {n: '${option.count}'}}\n"
                 "  - {job: prepare, targets: this-computer}\n"
                 "  - echo end\n")
    parent = engine.start_job("pipeline", {"count": "5"})
    assert engine.wait(parent.id, 60)
    parent = engine.catalog.get_run(parent.id)
    assert parent.status is RunStatus.SUCCEEDED
    children = engine.catalog.called_runs(parent.id)
    assert [(c.job_name, c.status) for c in children] == [("pipeline", "succeeded"), ("prepare", "succeeded"),
                                                          ("prepare", "succeeded"), ("pipeline", "succeeded")]
    assert all(c.called_by_run_id == parent.id for c in children)
    assert [c.note.split(" of run")[0] for c in children] == ["step 1", "step 2: job prepare", "step 3: job prepare",
                                                              "step 4"]
    assert "start on this-computer" in _log(engine.catalog, children[0].id)
    assert "prepare n=5 on gpu1" in _log(engine.catalog, children[1].id)     # its own targets, the step's option
    assert "prepare n=1 on this-computer" in _log(engine.catalog, children[2].id)  # the step's targets
    assert parent.note == f"ran as runs {', '.join(f'#{c.id}' for c in children)}"


def test_a_failing_child_stops_the_chain_and_names_the_step(engine):
    _add(engine, "name: broken\ntargets: this-computer\nsteps: ['exit 3']\n")
    _add(engine, "name: chain\ntargets: this-computer\nsteps: [{job: broken}, 'echo never']\n")
    parent = engine.start_job("chain")
    assert engine.wait(parent.id, 60)
    parent = engine.catalog.get_run(parent.id)
    (child,) = engine.catalog.called_runs(parent.id)
    assert parent.status is RunStatus.FAILED and child.status is RunStatus.FAILED
    assert parent.note == f"step 1: job broken (run #{child.id}) failed"


def test_cancelling_the_parent_cancels_the_running_child(engine):
    _add(engine, "name: long\ntargets: this-computer\nsteps: ['sleep 60']\n")
    _add(engine, "name: outer\ntargets: this-computer\nsteps: [{job: long}, 'echo never']\n")
    parent = engine.start_job("outer")
    import time
    deadline = time.monotonic() + 20
    while not engine.catalog.called_runs(parent.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.cancel(parent.id)
    assert engine.wait(parent.id, 60)
    (child,) = engine.catalog.called_runs(parent.id)
    assert engine.catalog.get_run(parent.id).status is RunStatus.CANCELLED
    assert child.status is RunStatus.CANCELLED


def test_loops_and_unknown_jobs_are_refused_when_a_job_is_saved(engine):
    _add(engine, "name: a\ntargets: all\nsteps: ['echo a']\n")
    _add(engine, "name: b\ntargets: all\nsteps: [{job: a}]\n")
    with pytest.raises(InvalidInput, match=r"job references loop: a -> b -> a"):
        _add(engine, "name: a\ntargets: all\nsteps: [{job: b}]\n")  # replacing a
    with pytest.raises(InvalidInput, match="job 'c' runs job 'nope', which does not exist"):
        _add(engine, "name: c\ntargets: all\nsteps: [{job: nope}]\n")
    with pytest.raises(InvalidInput, match="job references loop: self -> self"):
        _add(engine, "name: self\ntargets: all\nsteps: [{job: self}]\n")


def test_cli_import_refuses_a_loop_and_run_reports_the_children(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node)
    (tmp_path / "inner.yaml").write_text(f"name: inner\ntargets: {sshd_node.name}\nsteps: ['echo inner']\n")
    (tmp_path / "outer.yaml").write_text("name: outer\ntargets: this-computer\nsteps: [{job: inner}]\n")
    (tmp_path / "loop.yaml").write_text("name: inner\ntargets: all\nsteps: [{job: outer}]\n")
    for name in ("inner", "outer"):
        assert labdeck(data_dir, "job", "import", str(tmp_path / f"{name}.yaml")).returncode == 0
    looped = labdeck(data_dir, "job", "import", str(tmp_path / "loop.yaml"), "--replace")
    assert looped.returncode == 2 and "job references loop: inner -> outer -> inner" in looped.stderr
    run = labdeck(data_dir, "run", "outer", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    (child,) = report["children"]
    assert child["job"] == "inner" and child["status"] == "succeeded"
    assert "inner" in Path(child["nodes"][sshd_node.name]).read_text()
    history = {r["run_id"]: r for r in json.loads(labdeck(data_dir, "runs", "--json").stdout)}
    assert history[child["run_id"]]["note"] == f"step 1: job inner of run #{report['run_id']} (outer)"


def test_a_running_parent_is_not_taken_for_an_orphan_by_this_process(engine):
    """A parent has no node runs of its own; the orphan check (run when a run of another
    process is cancelled, or a schedule fires) must still see it as going on here."""
    _add(engine, "name: long\ntargets: this-computer\nsteps: ['sleep 5']\n")
    _add(engine, "name: outer2\ntargets: this-computer\nsteps: [{job: long}]\n")
    parent = engine.start_job("outer2")
    import time
    deadline = time.monotonic() + 20
    while not engine.catalog.called_runs(parent.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.adopt_detached()  # what cancelling a run that is not here does first
    assert engine.catalog.get_run(parent.id).status is RunStatus.RUNNING
    assert engine.wait(parent.id, 60)
    assert engine.catalog.get_run(parent.id).status is RunStatus.SUCCEEDED
