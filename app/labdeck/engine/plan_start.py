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
from ..store import run_queue as queue_store
from .arrays import ArrayRun, array_items
from .planned_run import PlannedRun
from .workflow import WorkflowRun


def start_planned(engine, job: Job, values: dict[str, str], trigger: Trigger, targets: str,
                  extra: dict | None = None, only: list[int] | None = None) -> Run:
    """``only``: for an array, just these item indexes."""
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
    planned = _build(engine, run, job, items, only)
    engine.queue.add(planned, planned.tasks_total, only)
    return run


def _build(engine, run: Run, job: Job, items: list[str] | None, only: list[int] | None = None) -> PlannedRun:
    if job.plan.array is not None:
        return ArrayRun(engine, run, job, items if items is not None else array_items(job.plan.array), only)
    return WorkflowRun(engine, run, job)


def rerun_failed(engine, run_id: int, trigger: Trigger = Trigger.MANUAL, why: str = "re-run",
                 extra: dict | None = None) -> Run:
    """An array run again with only its items that did not succeed (each keeps its index); a
    workflow run again from the start. Same options and targets. ``why`` starts the new run's
    note; ``extra``: more fields of the new run (a resume's parent_run_id)."""
    run = engine.catalog.get_run(run_id)
    if not run.status.is_final:
        raise InvalidInput(f"run {run_id} is still {run.status}; cancel it or wait for it first")
    job = replace(engine.catalog.get_job(run.job_name), targets=run.targets)
    if job.plan.array is None:
        return start_planned(engine, job, run.options, trigger, run.targets,
                             {**(extra or {}), "note": f"{why} of run {run_id}"})
    items = array_items(job.plan.array)
    latest = queue_store.latest_task_statuses(engine.catalog, run_id)
    done = {int(task) for task, (status, _) in latest.items()  # running: a detached task still going on
            if status in (RunStatus.SUCCEEDED, RunStatus.RUNNING)}
    wanted = sorted(set(queue_store.only_tasks(engine.catalog, run_id) or range(len(items))) - done)
    if not wanted:
        raise InvalidInput(f"every item of run {run_id} succeeded; nothing to re-run")
    for index in wanted:
        note = (latest.get(str(index), (None, ""))[1] or "").split(" (moved: ")[0]  # a moved item says so after
        # a task run's note is its item unless something else was said of it (cancelled at quit, ...)
        if index >= len(items) or (note.startswith("item ") and len(note) < 200 and note != f"item {items[index]}"):
            raise InvalidInput(f"the items of job '{job.name}' changed since run {run_id} (item {index}); "
                               f"start the job again instead")
    return start_planned(engine, job, run.options, trigger, run.targets,
                         {**(extra or {}), "note": f"{why} of {len(wanted)} item(s) of run {run_id}"}, wanted)


def rebuild(engine, run: Run) -> PlannedRun:
    """A queued run of an earlier process, from its job as the catalog has it now."""
    job = engine.catalog.get_job(run.job_name)
    if job.plan.is_classic():
        raise InvalidInput(f"job '{job.name}' no longer has a plan; run {run.id} cannot resume")
    return _build(engine, run, replace(job, targets=run.targets), None, queue_store.only_tasks(engine.catalog, run.id))
