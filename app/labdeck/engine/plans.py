"""Starting a planned run — a workflow, an array, or a job that requests resources or a
priority: validate, record the run as queued, and hand it to the run queue. Also rebuilds the
planned runs a previous LabDeck process left queued."""

from __future__ import annotations

from dataclasses import replace

from ..core.errors import InvalidInput
from ..core.models import Job, Run, Trigger
from ..core.quoting import Shell, substitute
from ..core.status import RunStatus
from ..core.targets import resolve_targets
from .arrays import ArrayRun, array_items
from .planned import PlannedRun
from .workflow import WorkflowRun


def start_planned(engine, job: Job, values: dict[str, str], trigger: Trigger, targets: str,
                  extra: dict | None = None) -> Run:
    job = replace(job, targets=targets)
    job.plan.validate(job.name)
    nodes = engine.catalog.list_nodes()
    resolve_targets(job.targets, nodes)
    for step in job.plan.workflow + ([job.plan.on_failure] if job.plan.on_failure else []):
        for s in step.steps:
            substitute(s.command or s.script, values, Shell.SH)
        if step.targets:
            resolve_targets(step.targets, nodes)
    items = array_items(job.plan.array) if job.plan.array is not None else None
    run, _ = engine.catalog.create_run(job.name, job.id, trigger, values, job.targets, [], lambda *a: "",
                                       {**(extra or {}), "status": str(RunStatus.QUEUED)})
    planned = _build(engine, run, job, items)
    engine.queue.add(planned, planned.tasks_total)
    return run


def _build(engine, run: Run, job: Job, items: list[str] | None) -> PlannedRun:
    if job.plan.array is not None:
        return ArrayRun(engine, run, job, items if items is not None else array_items(job.plan.array))
    return WorkflowRun(engine, run, job)


def rebuild(engine, run: Run) -> PlannedRun:
    """A queued run of an earlier process, from its job as the catalog has it now."""
    job = engine.catalog.get_job(run.job_name)
    if job.plan.is_classic():
        raise InvalidInput(f"job '{job.name}' no longer has a plan; run {run.id} cannot resume")
    return _build(engine, run, replace(job, targets=run.targets), None)
