"""Schedules in the scheduler tests: a job with a schedule, and the runs it made."""

from __future__ import annotations

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import RunStatus


def add_job(engine, name: str, command: str, **policy) -> Job:
    return engine.catalog.add_job(Job(name=name, targets="this-computer", steps=[Step(command=command)],
                                      policy=JobPolicy(**policy)), replace=True)


def runs_of(engine, job: str, status: RunStatus | None = None):
    return sorted(engine.catalog.list_runs(job, 500, str(status) if status else None), key=lambda r: r.id)
