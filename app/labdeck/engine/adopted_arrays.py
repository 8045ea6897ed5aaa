"""Array runs carried on by their detached tasks after the LabDeck process that ran them is gone.

An array whose only target is a batch scheduler (a Slurm cluster) is submitted whole: every
item has its task run, each one a detached node run the next LabDeck process re-attaches. Such
an array run has nothing left to place, so it is not "interrupted" (which would resume it and
submit its items again): the process that re-attaches its tasks holds it here and ends it once
they have all ended, with the summary a live array run writes ("2 / 4 done, 2 failed").
Cancelling it cancels its tasks."""

from __future__ import annotations

import logging
import os
import socket
import threading

from ..core.errors import LabDeckError
from ..core.events import RunFinished
from ..core.models import Run
from ..core.status import RunStatus
from ..core.targets import resolve_targets
from ..executors.registry import factory_of
from ..store import run_queue as queue_store

log = logging.getLogger(__name__)


def carried_on_by_its_tasks(catalog, run: Run) -> bool:
    """An array run on a batch scheduler alone (one array job there) with every item placed and
    every task that goes on detached."""
    try:
        job = catalog.get_job(run.job_name)
        nodes = resolve_targets(run.targets or job.targets, catalog.list_nodes())
    except LabDeckError:
        return False
    on_a_batch_scheduler = len(nodes) == 1 and factory_of(nodes[0]).always_detached
    return (job.plan.array is not None and on_a_batch_scheduler
            and queue_store.placed_and_detached(catalog, run.id))


class AdoptedArrays:
    def __init__(self, engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._held: dict[int, threading.Event] = {}   # run id -> set once it has ended
        self._cancelled: set[int] = set()
        engine.bus.subscribe(self._on_event)

    def adopt(self, run: Run) -> None:
        """Hold ``run`` (its tasks are being re-attached) and end it when they have all ended."""
        with self._lock:
            if run.id in self._held:
                return
            self._held[run.id] = threading.Event()
        queue_store.adopt(self._engine.catalog, run.id, os.getpid(), socket.gethostname())
        self._check(run.id)

    def held_ids(self) -> set[int]:
        with self._lock:
            return {run_id for run_id, done in self._held.items() if not done.is_set()}

    def has(self, run_id: int) -> bool:
        with self._lock:
            return run_id in self._held

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        with self._lock:
            done = self._held.get(run_id)
        return True if done is None else done.wait(timeout)

    def cancel(self, run_id: int) -> bool:
        """Cancel a held array run's tasks (it ends "cancelled" once they have); False if not held."""
        with self._lock:
            if run_id not in self._held:
                return False
            self._cancelled.add(run_id)
        for task, _fields in queue_store.task_runs(self._engine.catalog, run_id):
            if not task.status.is_final:
                self._engine.cancel(task.id)
        self._check(run_id)
        return True

    def _on_event(self, event) -> None:
        if not isinstance(event, RunFinished):
            return
        with self._lock:
            if not self._held:
                return
        try:
            parent = self._engine.catalog.get_run(event.run_id).workflow_run_id
        except LabDeckError:
            return
        if parent is not None and self.has(parent):
            self._check(parent)

    def _check(self, run_id: int) -> None:
        latest = queue_store.latest_task_statuses(self._engine.catalog, run_id)
        if any(status in queue_store.WAITING_STATUSES for status, _note in latest.values()):
            return
        with self._lock:
            done = self._held.get(run_id)
            if done is None or done.is_set():
                return
            done.set()
            cancelled_by_user = run_id in self._cancelled
        total = len(latest)
        succeeded = sum(status == RunStatus.SUCCEEDED for status, _note in latest.values())
        cancelled = sum(status == RunStatus.CANCELLED for status, _note in latest.values())
        summary = f"{succeeded} / {total} done" + (f", {total - succeeded} failed" if total - succeeded else "")
        if cancelled_by_user:
            status, note = RunStatus.CANCELLED, f"cancelled; {summary}"
        elif succeeded == total:
            status, note = RunStatus.SUCCEEDED, summary
        elif succeeded + cancelled == total:
            status, note = RunStatus.CANCELLED, summary  # only items the user cancelled did not succeed
        else:
            status, note = RunStatus.FAILED, summary
        note += " (its tasks re-attached after LabDeck stopped)"
        try:
            self._engine.catalog.finish_run(run_id, status, note)
            job_name = self._engine.catalog.get_run(run_id).job_name
        except LabDeckError as exc:
            log.warning("ending re-attached array run %s: %s", run_id, exc)
            return
        self._engine.bus.publish(RunFinished(run_id, job_name, status))
