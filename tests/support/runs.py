"""Adding jobs from YAML, setting capacities, starting jobs on an engine and reading what they
left: runs, logs, processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from labdeck.core.models import Capacity, Job, JobPolicy, Step
from labdeck.store import run_queue
from labdeck.store.jobfile import job_from_yaml


def add_job(engine, text: str):
    job = job_from_yaml(text)
    engine.catalog.add_job(job, replace=True)
    return job


def set_capacity(engine, name: str, **capacity) -> None:
    node = engine.catalog.get_node(name)
    node.capacity = Capacity(**capacity)
    engine.catalog.update_node(node)


def run_job(engine, job: Job, options=None, timeout=60):
    engine.catalog.add_job(job, replace=True)
    run = engine.start_job(job.name, options or {})
    assert engine.wait(run.id, timeout), "run did not finish in time"
    return engine.catalog.get_run(run.id), {nr.node_name: nr for nr in engine.catalog.node_runs(run.id)}


def processes_matching(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and not line.lstrip().startswith("Z")]


def run_yaml(engine, text: str, timeout: float = 60):
    job = job_from_yaml(text)
    engine.catalog.add_job(job, replace=True)
    run = engine.start_job(job.name)
    assert engine.wait(run.id, timeout), "the workflow did not finish in time"
    tasks = {r.task: (r, nr) for r, nr in run_queue.task_runs(engine.catalog, run.id)}
    return engine.catalog.get_run(run.id), tasks


DETACHED = JobPolicy(launch="detached")


def log_text(path) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""


def counting_job(name: str, targets: str, marker_dir: Path, seconds: int, every_s: float = 1) -> Job:
    """Prints ``seconds`` numbered lines, one every ``every_s`` seconds; each start is counted in a
    file per node."""
    command = (f'echo started >> {marker_dir}/"$LABDECK_NODE".starts; '
               f'i=1; while [ $i -le {seconds} ]; do echo "line $i of $LABDECK_NODE"; i=$((i+1)); sleep {every_s:g}; '
               'done; echo "warning on stderr" >&2; echo finished')
    return Job(name=name, targets=targets, steps=[Step(command=command)], policy=DETACHED)


def assert_complete_log(nr, node: str, seconds: int) -> None:
    text = Path(nr.log_path).read_text()
    for i in range(1, seconds + 1):
        count = text.count(f"line {i} of {node}\n")
        assert count == 1, f"line {i} of {node} appears {count} times"
    assert text.count("finished\n") == 1 and "warning on stderr\n" in text
