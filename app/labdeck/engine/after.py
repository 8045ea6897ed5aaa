"""Runs that start when another run ends: ``labdeck run B --after 42 [--after-ok]`` and a
schedule's ``after:`` (AWS Batch's job dependencies, in small).

A wait is recorded in the catalog (store/run_waits.py), so ``labdeck queue`` and the Queue
page show it as "waiting for run 42". The process that recorded it watches for run 42 to
end (on its own RunFinished events, and by reading the catalog at least every second, since
run 42 may belong to another process); then it starts the job — or, when success was
required and run 42 did not succeed, records a skipped entry saying why. A long-lived
process (the app, the daemon) takes over the waits of a LabDeck process that is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from ..core.errors import LabDeckError
from ..core.events import RunFinished
from ..core.models import Trigger
from ..core.status import RunStatus
from ..store import run_waits
from ..store.run_waits import RunWait
from .reconcile import pid_alive

log = logging.getLogger(__name__)
POLL_S = 1.0


class AfterRuns:
    def __init__(self, engine):
        self._engine = engine
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._unsubscribe = engine.bus.subscribe(self._on_event)

    def start_after(self, job_name: str, options: dict[str, str], trigger: Trigger, targets: str | None,
                    after_run_id: int, require_ok: bool = False, schedule_id: int | None = None) -> RunWait:
        """Record that ``job_name`` starts when run ``after_run_id`` ends. Everything that can be
        checked now is (the job, its options and targets, the run waited for)."""
        from .engine import resolve_options
        from ..core.targets import resolve_targets
        catalog = self._engine.catalog
        job = catalog.get_job(job_name)
        resolve_options(job, options)
        resolve_targets(targets or job.targets, catalog.list_nodes(), allow_empty=not job.plan.is_classic())
        after = catalog.get_run(after_run_id)  # NotFound: "no run with id ..."
        wait = run_waits.add_wait(catalog, job_name, options, targets, trigger, after.id, require_ok, schedule_id)
        self._ensure_thread()
        self._wake.set()
        return wait

    def fire_scheduled(self, schedule, job, fire_ts: float) -> bool:
        """A fire of a schedule with ``after:``: when that job has a run going on, wait for it;
        with ``after_ok``, when its last run did not succeed, record the fire as skipped. True
        when handled here; False: start the run now, as any fire."""
        catalog = self._engine.catalog
        latest = catalog.list_runs(schedule.after_job, limit=1)
        if not latest:
            return False
        last = latest[0]
        if not last.status.is_final:
            self.start_after(job.name, {}, Trigger.SCHEDULE, None, last.id, schedule.after_ok, schedule.id)
            return True
        if schedule.after_ok and last.status is not RunStatus.SUCCEEDED:
            catalog.record_entry(job.name, job.id, RunStatus.SKIPPED, Trigger.SCHEDULE, fire_ts,
                                 f"skipped: the last run of {schedule.after_job} (#{last.id}) ended {last.status}, "
                                 "and it had to succeed", job.targets, schedule.id)
            return True
        return False

    def cancel(self, wait_id: int) -> bool:
        return run_waits.finish_wait(self._engine.catalog, wait_id, "dropped", note="cancelled before it started")

    def wait_started(self, wait_id: int, timeout: float | None = None) -> RunWait:
        """The wait once it has left the waiting state (or as it is after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = run_waits.get_wait(self._engine.catalog, wait_id)
            if wait.state != "waiting" or (deadline is not None and time.monotonic() >= deadline):
                return wait
            time.sleep(0.1)

    def adopt_orphans(self) -> None:
        """Take over the waits of LabDeck processes on this computer that are gone."""
        catalog = self._engine.catalog
        for wait in run_waits.waiting(catalog):
            if wait.owner_host == socket.gethostname() and not pid_alive(wait.owner_pid):
                run_waits.adopt(catalog, wait.id)
        self._ensure_thread()
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._unsubscribe()
        if self._thread is not None:
            self._thread.join(10)

    # ---- watching ----------------------------------------------------------------------------

    def _on_event(self, event) -> None:
        if isinstance(event, RunFinished):
            self._wake.set()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._loop, name="run-after", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                for wait in run_waits.waiting(self._engine.catalog):
                    if wait.owner_pid == os.getpid() and wait.owner_host == socket.gethostname():
                        self._check(wait)
            except Exception:  # the catalog closing under us, a bug: the next round tries again
                log.exception("checking runs that wait for other runs")

    def _check(self, wait: RunWait) -> None:
        catalog = self._engine.catalog
        after = catalog.get_run(wait.after_run_id)
        if not after.status.is_final:
            return
        job = catalog.get_job(wait.job_name)
        if wait.require_ok and after.status is not RunStatus.SUCCEEDED:
            note = f"not started: run {after.id} ended {after.status}, and it had to succeed (--after-ok)"
            if run_waits.finish_wait(catalog, wait.id, "dropped", note=note):
                catalog.record_entry(job.name, job.id, RunStatus.SKIPPED, wait.trigger, time.time(), note,
                                     wait.targets or job.targets, wait.schedule_id)
            return
        extra = {"note": f"started after run {after.id} ({after.status})"}
        if wait.schedule_id is not None:
            extra["schedule_id"] = wait.schedule_id
        try:
            run = self._engine.start(job, wait.options, wait.trigger, wait.targets, extra)
        except LabDeckError as exc:
            note = f"could not start after run {after.id}: {exc}"
            if run_waits.finish_wait(catalog, wait.id, "dropped", note=note):
                catalog.record_entry(job.name, job.id, RunStatus.FAILED, wait.trigger, time.time(), note,
                                     wait.targets or job.targets, wait.schedule_id)
            return
        run_waits.finish_wait(catalog, wait.id, "started", run_id=run.id, note=extra["note"])
