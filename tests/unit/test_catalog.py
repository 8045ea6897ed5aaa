"""The SQLite catalog: records round-trip, migrations back the file up, runs left by dead
controllers are reconciled, YAML job files are validated."""

from __future__ import annotations

import sqlite3

import pytest

from labdeck.core.errors import AlreadyExists, CatalogError, InvalidInput, NotFound
from labdeck.core.models import Job, JobOption, JobPolicy, Node, Step, StepKind, Transport, Trigger
from labdeck.core.status import NodeRunStatus, RunStatus
from labdeck.engine.reconcile import reconcile_orphans
from labdeck.store import migrations
from labdeck.store.catalog import Catalog
from labdeck.store.jobfile import job_from_yaml, job_to_yaml


def test_nodes_and_jobs_round_trip(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    node = Node(name="gpu1", transport=Transport.SSH, host="10.0.0.5", username="lab", tags=["gpu"],
                attributes={"room": "B12"})
    catalog.add_node(node)
    assert catalog.get_node("gpu1").attributes == {"room": "B12"}
    with pytest.raises(AlreadyExists):
        catalog.add_node(Node(name="gpu1"))
    job = Job(name="gen", targets="tag:gpu", steps=[Step(kind=StepKind.SCRIPT, script="echo hi", filename="g.sh")],
              options=[JobOption(name="shard", default="0")], policy=JobPolicy(timeout_s=5, retries=1))
    catalog.add_job(job)
    assert catalog.get_job("gen") == job
    with pytest.raises(NotFound, match="known jobs: gen"):
        catalog.get_job("nope")
    catalog.close()


def test_wal_and_foreign_keys(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    assert catalog._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert catalog._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    catalog.close()


def test_migration_backs_up_an_older_file(tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    migrations.migrate(conn, path)
    conn.close()
    extra = [["CREATE TABLE future_feature (id INTEGER PRIMARY KEY)"]]
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + extra)
    catalog = Catalog(path)
    current = migrations.schema_version() - 1  # before the extra one
    assert (tmp_path / f"c.sqlite.bak-v{current}").exists()
    assert catalog._conn.execute("PRAGMA user_version").fetchone()[0] == current + 1
    catalog.close()


def test_a_newer_catalog_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(CatalogError, match="newer LabDeck"):
        Catalog(path)


def test_runs_of_a_dead_controller_are_marked_interrupted(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    run, _ = catalog.create_run("gen", None, Trigger.MANUAL, {}, "all", ["a", "b"], lambda r, n: tmp_path / f"{n}.log")
    catalog._conn.execute("UPDATE runs SET owner_pid = 2147483600 WHERE id = ?", (run.id,))  # no such process
    assert reconcile_orphans(catalog, set()) == [run.id]
    assert catalog.get_run(run.id).status is RunStatus.INTERRUPTED
    assert {nr.status for nr in catalog.node_runs(run.id)} == {NodeRunStatus.INTERRUPTED}
    catalog.close()


def test_job_yaml_validation_messages():
    with pytest.raises(InvalidInput, match="'name' is required"):
        job_from_yaml("steps: [echo]")
    with pytest.raises(InvalidInput, match="exactly one of 'command', 'script', 'put', 'get' or 'job'"):
        job_from_yaml("name: x\nsteps:\n- {command: a, script: b}")
    with pytest.raises(InvalidInput, match=r"policy: unknown key 'timeoutt' \(did you mean 'timeout_s'\?\)"):
        job_from_yaml("name: x\nsteps: [echo]\npolicy: {timeoutt: 3}")
    job = job_from_yaml("name: x\nsteps: [echo hi]\noptions: [{name: n, default: 3}]")
    assert job.steps[0].command == "echo hi" and job.options[0].default == "3"
    assert job_from_yaml(job_to_yaml(job)) == Job(name="x", steps=job.steps, options=job.options, policy=job.policy)
