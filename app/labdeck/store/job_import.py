"""Many jobs and their schedules into the catalog in one transaction: all of them or none.
Used by the importers of other tools' job definitions (Rundeck, Task Scheduler)."""

from __future__ import annotations

import time

from ..core.errors import AlreadyExists
from ..core.job_refs import check_references, referenced
from ..core.models import Job
from ..core.schedules import Schedule, validate
from .catalog import Catalog
from .records import job_to_row


def import_jobs(catalog: Catalog, jobs: list[Job], schedules: list[Schedule], replace: bool = False) -> None:
    """A replaced job keeps its id (its run history stays linked) and loses its old schedules."""
    for schedule in schedules:
        validate(schedule)
    every = {j.name: j for j in catalog.list_jobs()} | {j.name: j for j in jobs}
    for job in jobs:
        if referenced(job):
            check_references(job, every)
    now = time.time()
    with catalog._tx() as db:
        ids: dict[str, int] = {}
        for job in jobs:
            existing = catalog._find_id("jobs", job.name)
            if existing is not None and not replace:
                raise AlreadyExists(f"a job named '{job.name}' already exists (import with --replace to overwrite it)")
            if existing is not None:
                db["jobs"].update(existing, job_to_row(job) | {"updated_at": now})
                db.execute("DELETE FROM schedules WHERE job_id = ?", (existing,))
                job.id = existing
            else:
                job.id = db["jobs"].insert(job_to_row(job) | {"created_at": now, "updated_at": now}).last_pk
            ids[job.name] = job.id
        for schedule in schedules:
            job_id = ids.get(schedule.job_name) or catalog._find_id("jobs", schedule.job_name)
            # created_at anchors an interval (an importer may set it to keep the source's phase);
            # fires before now are not missed ones: the schedule did not exist here then
            schedule.created_at = schedule.created_at or now
            schedule.last_checked = now
            schedule.id = db["schedules"].insert({
                "job_id": job_id, "kind": str(schedule.kind), "expr": schedule.expr, "tz": schedule.tz,
                "enabled": int(schedule.enabled), "catch_up": str(schedule.catch_up),
                "last_checked": now, "created_at": schedule.created_at, "updated_at": now}).last_pk
