"""The engine's scheduler: an alarm clock (engine/alarm.py, over APScheduler's triggers), the
catalog as the only source of truth.

A fire only enqueues a run (``Engine.start``); no remote work happens on scheduler threads.
What is due is decided here, not by APScheduler: each schedule keeps the time up to which its
fires have been handled (``last_checked``), and every check looks at the fires between then
and now. A fire checked within ``miss_grace_s`` of its time starts a run; older ones (LabDeck
closed, the computer asleep, the scheduler busy) are recorded as ``missed`` runs and notified,
and the job's catch-up policy decides whether one run starts for them. So the alarm may ring
late, twice or not at all without anything being lost.

A watchdog thread compares the wall clock with the monotonic clock to notice sleep/resume and
clock jumps (the alarm sleeps on the monotonic clock, which stops during suspend), and
follows schedule changes made by other processes (the CLI beside a daemon).

Every reading of the time and every sleep goes through the clock the scheduler is given
(core/clock.py), so tests move time instead of waiting for it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import LabDeckError, NotFound
from ..core.events import RunFinished
from ..core.models import Job, Trigger
from ..core.schedules import CatchUp, Schedule, fire_times, trigger_for
from ..core.status import NodeRunStatus, RunStatus
from ..store.schedules import ScheduleStore
from .alarm import Alarm
from .leftovers import kill_interrupted_leftovers
from .reconcile import pid_alive, reconcile_orphans

log = logging.getLogger(__name__)
OWNER_SETTING = "scheduler_owner"
MAX_MISSED_ENTRIES = 50   # per check; beyond that one entry says how many more were missed
JUMP_S = 3.0              # wall clock ahead of the monotonic clock by this much: a sleep or a clock jump


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Scheduler:
    def __init__(self, engine, miss_grace_s: float = 5.0, watch_s: float = 0.5, recheck_s: float = 30.0,
                 workers: int = 8, clock: Clock = SYSTEM_CLOCK):
        self._engine = engine
        self._catalog = engine.catalog
        self._clock = clock
        self.store = ScheduleStore(engine.catalog, clock)
        self.miss_grace_s = miss_grace_s
        self._watch_s = watch_s
        self._recheck_s = recheck_s
        self._workers = workers
        self._alarm: Alarm | None = None
        self._loaded: dict[int, tuple] = {}      # schedule id -> what its alarm was set from
        self._signature: tuple | None = None
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._queued: dict[str, tuple[Schedule, float]] = {}  # job name -> the fire waiting for its run to end
        self._queue_lock = threading.Lock()
        self._slept_until = 0.0                   # misses noticed before this wall time are blamed on sleep
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._actions: ThreadPoolExecutor | None = None
        self._unsubscribe = None

    @property
    def running(self) -> bool:
        return self._alarm is not None

    # ---- start and stop ----------------------------------------------------------------

    def start(self) -> None:
        if self._alarm is not None:
            return
        self._claim()
        self._stop.clear()
        self._actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sched-actions")
        self._unsubscribe = self._engine.bus.subscribe(self._on_event)
        self._alarm = Alarm(self._clock, self._fire, self._workers)
        self._alarm.start()
        self.sync(reason="LabDeck was not running")
        self._watchdog = threading.Thread(target=self._watch, daemon=True, name="sched-watchdog")
        self._watchdog.start()

    def shutdown(self) -> None:
        if self._alarm is None:
            return
        self._stop.set()
        self._alarm.stop()
        if self._watchdog:
            self._watchdog.join(timeout=5)
        if self._unsubscribe:
            self._unsubscribe()
        if self._actions is not None:
            self._actions.shutdown(wait=True)
        self._alarm, self._loaded, self._signature = None, {}, None
        with self._queue_lock:
            self._queued.clear()
        if self._catalog.get_setting(OWNER_SETTING) == self._owner_id():
            self._catalog.set_setting(OWNER_SETTING, "")

    def _owner_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def other_owner(self) -> tuple[str, int, bool | None] | None:
        """The process other than this one that last claimed this catalog's schedules, as
        (host, pid, alive); alive is None for a process on another host (it cannot be checked)."""
        owner = self._catalog.get_setting(OWNER_SETTING) or ""
        host, _, pid = owner.rpartition(":")
        if not owner or owner == self._owner_id() or not pid.isdigit():
            return None
        alive = pid_alive(int(pid)) if host == socket.gethostname() else None
        return host, int(pid), alive

    def _claim(self) -> None:
        """One scheduler per catalog: two would run every fire twice."""
        other = self.other_owner()
        if other and other[2]:
            raise LabDeckError(f"the scheduler of this catalog already runs in process {other[1]} "
                               f"(the desktop app or 'labdeck daemon'); stop it first")
        self._catalog.set_setting(OWNER_SETTING, self._owner_id())

    # ---- following the catalog ---------------------------------------------------------

    def sync(self, reason: str = "LabDeck was busy") -> None:
        """Make the alarm follow the catalog's enabled schedules (unless paused)."""
        signature = self.store.signature()
        if signature == self._signature or self._alarm is None:
            return
        self._signature = signature
        paused = self.store.paused()
        wanted = {} if paused else {s.id: s for s in self.store.list() if s.enabled and s.id is not None}
        for sid in list(self._loaded):
            if sid not in wanted or self._loaded[sid] != self._key(wanted[sid]):
                self._alarm.remove(sid)
                del self._loaded[sid]
        for sid, schedule in wanted.items():
            if sid in self._loaded:
                continue
            try:
                trigger = trigger_for(schedule)
            except LabDeckError as exc:  # stored before a rule changed, or a zone database update
                log.error("schedule %s of job %s is invalid and does not run: %s", sid, schedule.job_name, exc)
                continue
            self.check(sid, reason)  # fires since it was last checked (e.g. while LabDeck was closed)
            try:
                handled_until = self.store.get(sid).last_checked or self._clock.time()
            except NotFound:  # removed meanwhile: the next sync drops it
                handled_until = self._clock.time()
            self._alarm.set(sid, trigger, handled_until)
            self._loaded[sid] = self._key(schedule)

    @staticmethod
    def _key(s: Schedule) -> tuple:
        return (s.kind, s.expr, s.tz, s.catch_up, s.enabled, s.job_name)

    def _watch(self) -> None:
        wall, mono = self._clock.time(), self._clock.monotonic()
        last_recheck = mono
        while not self._clock.wait_until(self._stop, mono + self._watch_s):  # a round late: the next at once
            now_wall, now_mono = self._clock.time(), self._clock.monotonic()
            try:
                if (now_wall - wall) - (now_mono - mono) > JUMP_S:
                    log.warning("the clock jumped %.0f s ahead (sleep or clock change): checking every schedule",
                                (now_wall - wall) - (now_mono - mono))
                    self._slept_until = now_wall + self.miss_grace_s
                    self.check_all("the computer was asleep or its clock jumped")
                self.sync()
                if now_mono - last_recheck > self._recheck_s:
                    last_recheck = now_mono
                    self.check_all()
            except Exception:
                log.exception("the scheduler's watchdog failed a round")
            wall, mono = now_wall, now_mono

    def check_all(self, reason: str = "LabDeck was busy") -> None:
        for sid in list(self._loaded):
            self.check(sid, reason)

    # ---- fires -------------------------------------------------------------------------

    def _fire(self, schedule_id: int) -> None:
        try:
            self.check(schedule_id)
        except Exception:
            log.exception("handling a fire of schedule %s failed", schedule_id)

    def _lock_for(self, schedule_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(schedule_id, threading.Lock())

    def check(self, schedule_id: int, reason: str = "LabDeck was busy") -> None:
        """Handle every fire of the schedule since it was last checked: start a run for one that
        is due now, record older ones as missed (and catch up once if the job says so)."""
        with self._lock_for(schedule_id):
            try:
                schedule = self.store.get(schedule_id)
            except NotFound:
                return
            if not schedule.enabled or self.store.paused():
                return
            now = self._clock.time()
            due = [t.timestamp() for t in
                   fire_times(trigger_for(schedule), _dt(schedule.last_checked or now), _dt(now))]
            if not due:
                return
            self.store.set_last_checked(schedule_id, now)  # first, so nothing ever runs twice
            on_time = [t for t in due if now - t <= self.miss_grace_s]
            missed = [t for t in due if now - t > self.miss_grace_s]
            if missed:
                if now < self._slept_until:
                    reason = "the computer was asleep or its clock jumped"
                self._record_missed(schedule, missed, reason)
            if on_time:
                self._launch(schedule, on_time[-1])
            elif missed and schedule.catch_up is CatchUp.ONCE:
                self._launch(schedule, missed[-1], note=f"catch-up for {len(missed)} missed fire(s)")

    def _record_missed(self, schedule: Schedule, missed: list[float], reason: str) -> None:
        job_id = self._job_id(schedule.job_name)
        shown = missed[-MAX_MISSED_ENTRIES:]
        extra = len(missed) - len(shown)
        for i, t in enumerate(shown):
            note = f"missed: {reason}"
            if i == 0 and extra:
                note += f" (and {extra} earlier missed fire(s) not listed)"
            self._catalog.record_entry(schedule.job_name, job_id, RunStatus.MISSED, Trigger.SCHEDULE, t, note,
                                       schedule_id=schedule.id)
        when = ", ".join(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) for t in missed[-3:])
        text = (f"LabDeck: job '{schedule.job_name}' missed {len(missed)} scheduled fire(s) ({when}); {reason}"
                + ("; running it once now" if schedule.catch_up is CatchUp.ONCE else ""))
        self._engine.notifier.notify("missed", schedule.job_name, None, str(RunStatus.MISSED), text)

    def _job_id(self, job_name: str) -> int | None:
        try:
            return self._catalog.get_job(job_name).id
        except NotFound:
            return None

    # ---- overlap -----------------------------------------------------------------------

    def _launch(self, schedule: Schedule, fire_ts: float, note: str = "") -> None:
        try:
            job = self._catalog.get_job(schedule.job_name)
        except NotFound:
            return
        overlap = job.policy.overlap
        if overlap != "parallel":
            running = self._running(job.name)
            if running and overlap == "queue":
                with self._queue_lock:
                    if job.name not in self._queued:
                        self._queued[job.name] = (schedule, fire_ts)
                        running = self._running(job.name)  # it may have ended meanwhile
                        if not running:
                            del self._queued[job.name]
                        else:
                            return
                    else:
                        note = "a run of this job was already queued behind the running one"
            if running:
                self._catalog.record_entry(
                    job.name, job.id, RunStatus.SKIPPED, Trigger.SCHEDULE, fire_ts,
                    note or f"skipped: run {running[0]} of this job was still running", schedule_id=schedule.id)
                return
        self._start(job, schedule, fire_ts, note)

    def _running(self, job_name: str) -> list[int]:
        """Runs of the job that are really going on; an orphan (its process is gone) never blocks."""
        here = (set(self._engine.dispatcher.active_run_ids()) | self._engine.job_refs.active_ids()
                | self._engine.adopted_arrays.held_ids())
        runs = [r for status in (RunStatus.RUNNING, RunStatus.QUEUED)  # queued: waiting for room (run queue)
                for r in self._catalog.list_runs(job_name, 20, str(status))]
        if any(r.id not in here for r in runs):
            interrupted: list = []
            fixed = set(reconcile_orphans(self._catalog, here, adopt=self._engine.dispatcher.adopt,
                                          interrupted=interrupted, adopt_array=self._engine.adopted_arrays.adopt))
            if interrupted:  # remote work: never on the scheduler's thread
                threading.Thread(target=kill_interrupted_leftovers,
                                 args=(self._catalog, self._engine.pool, interrupted),
                                 daemon=True, name="orphan-leftovers").start()
            runs = [r for r in runs if r.id not in fixed]
        return [r.id for r in runs if not self._only_lost_nodes(r.id)]

    def _only_lost_nodes(self, run_id: int) -> bool:
        """A run that goes on only on nodes that stopped answering never blocks the next one."""
        going_on = [nr.status for nr in self._catalog.node_runs(run_id) if not nr.status.is_final]
        return bool(going_on) and all(s is NodeRunStatus.NODE_LOST for s in going_on)

    def _start(self, job: Job, schedule: Schedule, fire_ts: float, note: str = "") -> None:
        extra = {"schedule_id": schedule.id, "scheduled_for": fire_ts, "note": note}
        if schedule.after_job and self._engine.after.fire_scheduled(schedule, job, fire_ts):
            return  # waits for (or was skipped because of) another job's run: engine/after.py
        try:
            self._engine.start(job, None, Trigger.SCHEDULE, extra=extra)
        except LabDeckError as exc:  # e.g. its targets match no node any more: recorded and told, never silent
            run = self._catalog.record_entry(job.name, job.id, RunStatus.FAILED, Trigger.SCHEDULE, fire_ts,
                                             f"could not start: {exc}", targets=job.targets, schedule_id=schedule.id)
            self._engine.notifier.notify("failed", job.name, run.id, str(RunStatus.FAILED),
                                         f"LabDeck: scheduled run of job '{job.name}' could not start: {exc}")

    def _on_event(self, event) -> None:
        if isinstance(event, RunFinished) and event.job_name in self._queued and self._actions:
            try:
                self._actions.submit(self._start_queued, event.job_name)
            except RuntimeError:  # shutting down
                pass

    def _start_queued(self, job_name: str) -> None:
        with self._queue_lock:
            if job_name not in self._queued or self._running(job_name):
                return
            schedule, fire_ts = self._queued.pop(job_name)
        try:
            job = self._catalog.get_job(job_name)
        except NotFound:
            return
        self._start(job, schedule, fire_ts, note="queued behind the previous run")
