"""Slurm's own time limit on a REAL single-host cluster (tests/support/slurm.py). A module of its
own: Slurm counts limits in whole minutes and checks them every half minute or so, so this test
waits about a minute and a half whatever it does; alone in its file it runs beside the other
Slurm tests (test_slurm_runs.py) instead of after them."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import NodeRunStatus
from tests.support.runs import run_job
from tests.support.slurm import add_cluster, slurm_job_of


@pytest.mark.slow
def test_slurms_time_limit_ends_the_job_as_timed_out_with_slurms_name(engine, slurm, login):
    """timeout_s becomes --time (whole minutes: Slurm's resolution); Slurm ends the job within
    about a minute and a half of it starting, and says TIMEOUT."""
    add_cluster(engine, login)
    job = Job(name="slow", targets="hpc", steps=[Step(command="echo begun; sleep 600")], policy=JobPolicy(timeout_s=5))
    run, node_runs = run_job(engine, job, timeout=180)
    nr = node_runs["hpc"]
    assert nr.status is NodeRunStatus.TIMED_OUT
    assert nr.message == "Slurm: TIMEOUT (the job reached its time limit (--time))"
    assert "begun\n" in Path(nr.log_path).read_text()
    assert slurm.squeue()[slurm_job_of(engine, nr.id)] == "TIMEOUT"
