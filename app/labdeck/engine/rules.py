"""Run-level rules kept by the engine's own clock: a run longer than its job's max runtime is
cancelled and restarted up to max_restarts times, then ended as failed; a run longer than its
expected duration is notified once. They apply to every run, scheduled or started by hand."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import LabDeckError
from ..core.events import RunFinished
from ..core.models import Job, Run, Trigger
from ..core.status import RunStatus

log = logging.getLogger(__name__)
POLL_S = 0.2


class RuleWatcher:
    def __init__(self, engine):
        self._engine = engine
        self._stop = threading.Event()
        self._ended: set[int] = set()          # runs this watcher has already cancelled
        self._exceeded: set[int] = set()       # runs already notified as overlong
        self._restart: dict[int, tuple[Run, Job]] = {}  # cancelled for a restart that has not started yet
        self._successors: dict[int, int | None] = {}     # run -> its restart (None: starting it failed)
        self._lock = threading.Lock()
        self._restarted = threading.Condition(self._lock)
        self._actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules")
        self._unsubscribe = engine.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rules")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.check(time.time())
            except Exception:  # a rule must never take the engine down
                log.exception("checking run rules failed")

    def check(self, now: float) -> None:
        for run, job in self._engine.dispatcher.active_runs() + self._engine.queue.active_runs():
            policy, elapsed = job.policy, now - run.started_at
            if policy.expected_duration_s and elapsed > policy.expected_duration_s and run.id not in self._exceeded:
                self._exceeded.add(run.id)
                self._engine.notifier.notify(
                    "exceeded", job.name, run.id, "running",
                    f"LabDeck: job '{job.name}' run {run.id} has run {elapsed:.0f} s, longer than the expected "
                    f"{policy.expected_duration_s:g} s")
            if policy.max_runtime_s and elapsed > policy.max_runtime_s and run.id not in self._ended:
                self._ended.add(run.id)
                self._end(run, job)

    def _end(self, run: Run, job: Job) -> None:
        policy = job.policy
        limit = f"ran longer than its max runtime of {policy.max_runtime_s:g} s"
        if run.restarts < policy.max_restarts:
            with self._lock:
                self._restart[run.id] = (run, job)
            note = f"{limit}; cancelled and restarted ({run.restarts + 1} of {policy.max_restarts})"
            final = (RunStatus.CANCELLED, note)
        else:
            after = f" after {run.restarts} restart(s)" if run.restarts else ""
            final = (RunStatus.FAILED, f"{limit}{after}; cancelled and reported failed")
        log.info("run %s %s", run.id, final[1])
        if not self._engine.dispatcher.cancel(run.id, final=final):
            self._engine.queue.cancel(run.id, final=final)  # a workflow or array run

    def _on_event(self, event) -> None:
        if isinstance(event, RunFinished):
            with self._lock:
                pending = self._restart.get(event.run_id)
                if pending and self._stop.is_set():
                    self._restart.pop(event.run_id)
                    self._successors[event.run_id] = None
                    self._restarted.notify_all()
            self._exceeded.discard(event.run_id)
            self._ended.discard(event.run_id)
            if pending and not self._stop.is_set():
                self._actions.submit(self._start_again, *pending)

    def pending(self) -> bool:
        """A restart is decided and not started yet (the engine must stay up for it)."""
        with self._lock:
            return bool(self._restart)

    def successor(self, run_id: int, timeout: float | None) -> int | None:
        """The restart of ``run_id`` once it has started (waiting for it while it is pending)."""
        with self._restarted:
            self._restarted.wait_for(lambda: run_id not in self._restart, timeout)
            return self._successors.get(run_id)

    def _start_again(self, run: Run, job: Job) -> None:
        started: int | None = None
        try:
            if job.id is not None:
                job = self._engine.catalog.get_job(job.name)  # the definition as it is now
            root = run.parent_run_id or run.id
            started = self._engine.start(job, run.options, Trigger.RETRY, targets=run.targets, extra={
                "restarts": run.restarts + 1, "parent_run_id": root, "schedule_id": run.schedule_id,
                "note": f"restart {run.restarts + 1} of run {root} (max runtime {job.policy.max_runtime_s:g} s)"}).id
        except LabDeckError as exc:
            log.error("restarting run %s failed: %s", run.id, exc)
        finally:
            with self._lock:
                self._restart.pop(run.id, None)
                self._successors[run.id] = started
                self._restarted.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._unsubscribe()
        self._thread.join(timeout=2)
        self._actions.shutdown(wait=True)
