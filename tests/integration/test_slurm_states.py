"""Slurm's states in LabDeck's words, on a REAL single-host Slurm cluster (tests/support/slurm.py)
behind a real test sshd as its login node: a job Slurm keeps pending is a node run ``queued``
with Slurm's reason (``labdeck runs``, ``labdeck tasks``), turning ``running`` when Slurm starts
it; a job exceeding its ``--mem`` ends OUT_OF_MEMORY where the test cluster confines memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labdeck.core.job_plan import ArraySpec, Plan, Resources
from labdeck.core.models import Job, Step
from labdeck.core.status import NodeRunStatus, RunStatus
from tests.support.cli import CLI_ENV
from tests.support.runs import run_job
from tests.support.slurm import add_cluster, memory_enforcement_missing, node_runs_of, slurm_job_of
from tests.support.waiting import wait_for


def test_a_job_exceeding_its_memory_ends_out_of_memory_with_slurms_name(engine, slurm, login):
    """The test cluster confines memory with cgroups where the container allows it (as real
    clusters do): the kernel kills what exceeds --mem and Slurm says OUT_OF_MEMORY, even though
    the batch script itself goes on and ends with exit code 0."""
    if not slurm.enforces_memory:
        pytest.skip(memory_enforcement_missing())
    add_cluster(engine, login)
    job = Job(name="hungry", targets="hpc", steps=[
        Step(command="echo begun; python3 -c \"x = b'x' * (400 << 20); print('never printed')\"; echo carried on")],
        plan=Plan(resources=Resources(memory_mb=100)))
    run, _ = run_job(engine, job, timeout=60)
    (nr,) = node_runs_of(engine, run.id)
    assert run.status is RunStatus.FAILED
    assert nr.status is NodeRunStatus.FAILED
    assert nr.message == "Slurm: OUT_OF_MEMORY (the job ran out of memory (its --mem))"
    text = Path(nr.log_path).read_text()
    assert "begun\n" in text and "never printed" not in text
    assert slurm.squeue()[slurm_job_of(engine, nr.id)] == "OUT_OF_MEMORY"


def _cli(data_dir, *args):
    done = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60, env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_pending_job_is_queued_with_slurms_reason_then_running(engine, data_dir, slurm, login):
    """Slurm's PENDING is the node run's status ``queued`` with Slurm's reason, in the catalog and
    in ``labdeck runs``; it turns ``running`` when Slurm starts the job."""
    add_cluster(engine, login)
    engine.catalog.add_job(Job(name="hog", targets="hpc", steps=[Step(command="sleep 60")],
                               plan=Plan(resources=Resources(cpus=slurm.cpus))))
    engine.catalog.add_job(Job(name="next", targets="hpc", steps=[Step(command="echo started; sleep 60")]))
    hog = engine.start_job("hog")
    wait_for(lambda: any(s == "RUNNING" for s in slurm.squeue().values()), 30, "the hog to run")
    run = engine.start_job("next")
    (nr,) = engine.catalog.node_runs(run.id)
    # Slurm gives its reason once its scheduler has looked at the job (at first: none)
    wait_for(lambda: engine.catalog.get_node_run(nr.id).message == "queued on hpc (Slurm: PENDING, Resources)", 30,
             "Slurm's reason")
    assert engine.catalog.get_node_run(nr.id).status is NodeRunStatus.QUEUED
    assert slurm.squeue()[slurm_job_of(engine, nr.id)] == "PENDING"
    table = _cli(data_dir, "runs", "--job", "next")
    assert "1 queued (detached)" in table, table
    listed = json.loads(_cli(data_dir, "runs", "--job", "next", "--json"))
    assert listed[0]["nodes"] == {"hpc": "queued"}
    engine.cancel(hog.id)  # room on the node: Slurm starts the queued job
    started = wait_for(lambda: (n := engine.catalog.get_node_run(nr.id)).status is NodeRunStatus.RUNNING and n, 60,
                       "the node run to run")
    assert started.message == ""
    wait_for(lambda: "started\n" in Path(nr.log_path).read_text(), 30, "its output")
    text = Path(nr.log_path).read_text()
    assert "queued on hpc (Slurm: PENDING, Resources)" in text and "started on hpc" in text
    assert "1 running (detached)" in _cli(data_dir, "runs", "--job", "next")
    engine.cancel(run.id)
    assert engine.wait(run.id, 30) and engine.wait(hog.id, 30)


def test_an_arrays_pending_tasks_are_queued_in_labdeck_tasks_with_slurms_reason(engine, data_dir, slurm, login,
                                                                                 tmp_path):
    """An array limited to one task at a time (``%1``): the tasks Slurm holds back are queued
    with its reason (JobArrayTaskLimit) in ``labdeck tasks`` and the array's progress (in
    ``labdeck tasks`` and ``labdeck runs``), then run."""
    add_cluster(engine, login)
    go = tmp_path / "go"  # the compute node shares this machine's filesystem: the test lets the tasks end
    engine.catalog.add_job(Job(name="one-by-one", targets="hpc", steps=[Step(
        command=f"echo item; while [ ! -e {go} ]; do sleep 0.2; done")],
        plan=Plan(array=ArraySpec(count=3, slots_per_node=1))))
    run = engine.start_job("one-by-one")
    why = "queued on hpc (Slurm: PENDING, JobArrayTaskLimit)"

    def two_held() -> bool:
        tasks = json.loads(_cli(data_dir, "tasks", str(run.id), "--json"))["tasks"]
        return sorted((t["status"], t["message"]) for t in tasks) == [
            ("queued", why), ("queued", why), ("running", "")]
    try:
        wait_for(two_held, 60, "one task running and two queued with Slurm's reason")
        table = _cli(data_dir, "tasks", str(run.id))
        assert "0 / 3 done, 1 running, 2 queued" in table.splitlines()[0], table
        assert sum(" queued " in line and "JobArrayTaskLimit" in line for line in table.splitlines()) == 2, table
        assert "0 / 3 done, 1 running, 2 queued" in _cli(data_dir, "runs", "--job", "one-by-one")
    finally:
        go.touch()
    assert engine.wait(run.id, 60)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    statuses = [t["status"] for t in json.loads(_cli(data_dir, "tasks", str(run.id), "--json"))["tasks"]]
    assert statuses == ["succeeded"] * 3
