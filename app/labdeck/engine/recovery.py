"""Recovery without a human (Prefect calls it Lazarus): when an engine takes over a catalog,
each workflow or array run that an earlier engine left ``interrupted`` (LabDeck was closed or
crashed while it ran) is resumed once with what did not succeed — an array with its items
that did not succeed, a workflow from the start — unless its job says ``resume: manual``.
Both runs say so in their notes: the new one "resumed by itself: ...", the old one "resumed as
run N". Only runs interrupted in the last ``RESUME_WINDOW_S`` are taken up (a catalog opened
after months does not start old work), and a resume that is interrupted again is left to
``labdeck rerun`` (no loop of resumes)."""

from __future__ import annotations

import logging
import time

from ..core.errors import LabDeckError
from ..core.models import Trigger
from ..store import run_queue as queue_store
from .plan_start import rerun_failed

log = logging.getLogger(__name__)
RESUME_WINDOW_S = 7 * 86400


def resume_interrupted(engine, now: float | None = None) -> list[int]:
    """Resume the interrupted workflow and array runs; the ids of the new runs."""
    started = []
    for run in queue_store.interrupted_to_resume(engine.catalog, (now or time.time()) - RESUME_WINDOW_S):
        try:
            job = engine.catalog.get_job(run.job_name)
        except LabDeckError:
            continue  # the job is gone: nothing to resume it with
        if job.plan.is_classic():
            continue
        if job.plan.resume == "manual":
            continue  # its note already says: labdeck rerun N runs again what did not succeed
        why = f"resumed by itself: run {run.id} was interrupted when LabDeck stopped; resume"
        try:
            new = rerun_failed(engine, run.id, Trigger.RESUME, why, {"parent_run_id": run.id})
        except LabDeckError as exc:
            log.warning("run %s cannot resume: %s", run.id, exc)
            queue_store.add_note(engine.catalog, run.id, f"could not resume: {exc}")
            continue
        queue_store.add_note(engine.catalog, run.id, f"resumed as run {new.id}")
        started.append(new.id)
    return started
