"""The run queue: planned runs (workflows, arrays, jobs that request resources or a priority)
wait here, ordered by priority and first-in-first-out within a priority (as the catalog says,
so ``labdeck queue move`` from another process takes effect). One thread places ready tasks
on nodes where they fit (engine/placement.py) and launches them as task runs; a finished
task run frees its room and wakes the queue. Queued runs survive a restart: ``resume()``
adopts those whose LabDeck process is gone."""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import LabDeckError
from ..core.events import NodeRunStateChanged, QueueChanged, RunFinished
from ..core.gpus import gpu_environment
from ..core.models import Node
from ..core.status import NodeRunStatus, RunStatus
from ..store import run_queue as queue_store
from .adopted_arrays import carried_on_by_its_tasks
from .lost_tasks import LostTasks
from .placement import Ledger, node_capacity
from .planned_run import PlannedRun, Task, TaskOutcome
from .reconcile import pid_alive
from .tasks import start_task_run

log = logging.getLogger(__name__)
POLL_S = 0.5  # re-read priorities and cancel flags at least this often


class RunQueue:
    def __init__(self, engine):
        self._engine = engine
        self.ledger = Ledger(engine.catalog)
        self._runs: dict[int, PlannedRun] = {}
        self._children: dict[int, tuple[PlannedRun, Task]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._launcher = ThreadPoolExecutor(max_workers=16, thread_name_prefix="task-launch")
        self._lost = LostTasks(self, engine)
        self._unsubscribe = engine.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="run-queue")
        self._thread.start()

    # ---- runs ---------------------------------------------------------------------------

    def add(self, planned: PlannedRun, tasks_total: int, only: list[int] | None = None) -> None:
        queue_store.enqueue(self._engine.catalog, planned.run.id, planned.job.plan.priority, tasks_total, only)
        with self._lock:
            self._runs[planned.run.id] = planned
        self._engine.bus.publish(QueueChanged())
        self.wake()

    def pending(self) -> bool:
        """Planned runs this queue holds that have not finished."""
        with self._lock:
            return any(not p.finished for p in self._runs.values())

    def has(self, run_id: int) -> bool:
        with self._lock:
            return run_id in self._runs

    def get(self, run_id: int) -> PlannedRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        planned = self.get(run_id)
        return True if planned is None else planned.done.wait(timeout)

    def active_runs(self) -> list[tuple]:
        """(run, job) of the planned runs that have started (for the run-level rules)."""
        with self._lock:
            return [(p.run, p.job) for p in self._runs.values() if p.started and not p.finished]

    def cancel(self, run_id: int, final: tuple[RunStatus, str] | None = None) -> bool:
        """``final``: the status and note the run ends with instead of "cancelled"."""
        planned = self.get(run_id)
        if planned is None:
            return self._cancel_orphan(run_id)
        planned.cancel(final)
        self._forget_if_done(planned)
        return True

    def _cancel_orphan(self, run_id: int) -> bool:
        """A queued run whose LabDeck process is gone: nobody will start it, so it ends here."""
        try:
            run = self._engine.catalog.get_run(run_id)
        except LabDeckError:
            return False
        if run.status is not RunStatus.QUEUED or run.owner_host != socket.gethostname() or (
                run.owner_pid and run.owner_pid != os.getpid() and pid_alive(run.owner_pid)):
            return False
        self._engine.catalog.finish_run(run_id, RunStatus.CANCELLED, "cancelled while queued")
        self._engine.bus.publish(QueueChanged())
        return True

    def wake(self) -> None:
        self._wake.set()

    def resume(self, build) -> list[int]:
        """Adopt queued runs whose process is gone; ``build(run)`` makes their PlannedRun."""
        adopted: list[PlannedRun] = []
        host, pid = socket.gethostname(), os.getpid()
        for run in queue_store.queued_runs(self._engine.catalog):
            if self.has(run.id) or run.owner_host != host or (
                    run.owner_pid and run.owner_pid != pid and pid_alive(run.owner_pid)):
                continue
            try:
                planned = build(run)
            except LabDeckError as exc:
                log.error("queued run %s cannot resume: %s", run.id, exc)
                continue
            queue_store.adopt(self._engine.catalog, run.id, pid, host)
            adopted.append(planned)
        with self._lock:  # all at once, so the first one placed is the first in line
            self._runs.update({p.run.id: p for p in adopted})
        self._engine.bus.publish(QueueChanged())
        self.wake()
        return [p.run.id for p in adopted]

    def close(self) -> None:
        """Stop placing. A queued run with nothing started stays queued (the next LabDeck takes
        it up); a started one ends "interrupted": the dispatcher then stops its attached task
        runs and leaves detached ones to finish on their nodes, and ``labdeck rerun`` runs
        again what did not succeed. An array submitted whole to a batch scheduler stays running:
        the next LabDeck re-attaches its tasks and ends it (adopted_arrays.py)."""
        self._stop.set()
        self._wake.set()
        self._lost.close()
        self._thread.join(timeout=5)
        with self._lock:
            runs = list(self._runs.values())
        for planned in runs:
            if carried_on_by_its_tasks(self._engine.catalog, planned.run):
                continue  # its tasks are one array job on a batch scheduler: the next LabDeck follows it on
            if planned.started:
                planned.finish(RunStatus.INTERRUPTED,
                               f"LabDeck closed while it ran; tasks launched detached finish on their nodes, the "
                               f"others were stopped (labdeck rerun {planned.run.id} runs again what did not succeed)")
        self._launcher.shutdown(wait=True)
        self._unsubscribe()
        self.ledger.release_all()

    # ---- placing ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._check_cancel_flags()
                self._place_ready()
            except Exception:  # the queue must keep going whatever one run does
                log.exception("placing queued tasks failed")

    def _ordered(self) -> list[PlannedRun]:
        with self._lock:
            runs = [p for p in self._runs.values() if not p.finished and not p.cancelled]
        order = queue_store.priorities(self._engine.catalog, [p.run.id for p in runs])
        return sorted(runs, key=lambda p: (-order.get(p.run.id, (0, 0))[0], order.get(p.run.id, (0, p.run.id))[1]))

    def _place_ready(self) -> None:
        # A node a waiting task of an earlier run could use is held for it against later runs'
        # tasks that also request resources, so a big request is not starved by small ones.
        held_for: dict[str, int] = {}
        ordered = self._ordered()
        if not ordered:
            return
        current = {n.name: n for n in self._engine.catalog.list_nodes()}  # capacity as last probed
        for planned in ordered:
            reason = ""
            blocked: set[tuple] = set()
            again = planned.take_requeued()
            seen = {id(t) for t in again}
            for task in again + [t for t in planned.ready_tasks() if id(t) not in seen]:
                task.candidates = [current[n.name] for n in task.candidates if n.name in current]
                shape = (tuple(n.name for n in task.candidates), task.resources.cpus, task.resources.memory_mb,
                         task.resources.gpus)
                if shape in blocked:
                    if planned.uniform_tasks:
                        break  # every later task asks for the same: none fits either
                    continue
                unknown = self._capacity_unknown(task)
                if unknown:  # probe first; the task waits for the answer
                    blocked.add(shape)
                    reason = reason or unknown
                    continue
                impossible = self.ledger.never_fits(task.candidates, task.resources)
                if impossible:
                    errors = [f"{n.name}: {self._engine.health.probe_error(n.name)}" for n in task.candidates
                              if self._engine.health.probe_error(n.name)]
                    if errors:
                        impossible += f"; its probe failed ({'; '.join(errors[:3])})"
                    planned.take_placed(task, None)
                    self._finish_task(planned, task, TaskOutcome(NodeRunStatus.ERROR, None, impossible))
                    continue
                placement = self.ledger.place(task, planned.run.id, task.candidates, task.resources,
                                              self._exclusion(planned, task, held_for))
                if placement.node is None:
                    blocked.add(shape)
                    reason = reason or placement.reason
                    if not task.resources.is_empty():
                        for node in task.candidates:
                            if node.name not in held_for and self.ledger.could_hold(node, task.resources) \
                                    and planned.slot_free(node.name):
                                held_for[node.name] = planned.run.id
                    continue
                planned.take_placed(task, placement.node)
                self._launcher.submit(self._launch, planned, task, placement.node, placement.gpu_devices)
            planned.set_reason(reason)
            self._forget_if_done(planned)

    def _capacity_unknown(self, task: Task) -> str:
        """When a candidate's capacity for what the task requests is unknown and the node has
        not been probed yet: a probe is asked for and this says so (else "")."""
        if task.resources.is_empty():
            return ""
        health = self._engine.health
        waiting = []
        for node in task.candidates:
            capacity = node_capacity(node)
            missing = [k for k in ("cpus", "memory_mb", "gpus") if getattr(task.resources, k) and capacity[k] is None]
            if not missing:
                return ""
            if not health.probed(node.name):
                health.probe_soon(node.name)
                waiting.append(f"probing {node.name} to learn its capacity")
            elif health.down(node.name):
                waiting.append(f"{node.name}'s capacity is unknown and its probe failed "
                               f"({health.probe_error(node.name)}); waiting for it to answer")
            else:
                return ""  # probed and up, and still unknown: never_fits says so
        return "; ".join(waiting[:3]) if waiting else ""

    def _exclusion(self, planned: PlannedRun, task: Task, held_for: dict[str, int]):
        health = self._engine.health

        def excluded(node_name: str) -> str | None:
            down = health.down(node_name)
            if down:
                return down
            if not planned.slot_free(node_name):
                return f"every target node has this run's {planned.slots_per_node} slot(s) in use"
            holder = held_for.get(node_name)
            if holder is not None and holder != planned.run.id and not task.resources.is_empty():
                return f"{node_name} is kept for run {holder}, which is ahead in the queue"
            return None
        return excluded

    def _launch(self, planned: PlannedRun, task: Task, node: Node, gpu_devices: list[int]) -> None:
        def created(run_id: int) -> None:
            task.child_run_id = run_id
            with self._lock:
                self._children[run_id] = (planned, task)

        try:
            if planned.cancelled:
                raise LabDeckError("cancelled before it started")
            steps, env = planned.prepare(task, node)
            if gpu_devices:  # its own GPUs, never shared with another LabDeck task on the node
                env = {**env, **gpu_environment(gpu_devices)}
            child = start_task_run(self._engine, planned.run, planned.job, task.key, node, steps, env,
                                   planned.run.trigger, created, task.note)
            if planned.cancelled:  # cancelled while it was being started: a cancel before now did not see it
                self._engine.dispatcher.cancel(child)
        except Exception as exc:
            if not isinstance(exc, LabDeckError):
                log.exception("starting task %s of run %s failed", task.key, planned.run.id)
            with self._lock:
                if task.child_run_id is not None:
                    self._children.pop(task.child_run_id, None)
            status = NodeRunStatus.CANCELLED if planned.cancelled else NodeRunStatus.ERROR
            self._finish_task(planned, task, TaskOutcome(status, None, str(exc)))

    def _on_event(self, event) -> None:
        if isinstance(event, RunFinished):
            with self._lock:
                found = self._children.pop(event.run_id, None)
            if found:
                self._launcher.submit(self._task_run_finished, *found)
        elif isinstance(event, NodeRunStateChanged) and event.status is NodeRunStatus.NODE_LOST:
            with self._lock:
                found = self._children.get(event.run_id)
            if found:  # a detached item whose node stopped answering: the job's unreachable policy
                self._launcher.submit(self._lost.node_lost, *found, event)

    def release_child(self, child_run_id: int, planned: PlannedRun, task: Task) -> bool:
        """Forget the task run ``child_run_id`` of ``task`` (its end no longer counts for the task):
        False when it already ended or was released."""
        with self._lock:
            found = self._children.get(child_run_id)
            if found is None or found[0] is not planned or found[1] is not task:
                return False
            del self._children[child_run_id]
            return True

    def _task_run_finished(self, planned: PlannedRun, task: Task) -> None:
        node_runs = self._engine.catalog.node_runs(task.child_run_id)
        nr = node_runs[0] if node_runs else None
        if (nr is not None and nr.status is NodeRunStatus.UNREACHABLE and planned.job.policy.unreachable == "move"
                and not planned.cancelled and not planned.finished):
            # its node went down under it (unreachable: move): it is placed again, not failed
            self.ledger.release(task)
            planned.requeue(task, f"{nr.node_name} unreachable")
            self.wake()
            return
        outcome = (TaskOutcome(nr.status, nr.exit_code, nr.message) if nr
                   else TaskOutcome(NodeRunStatus.ERROR, None, "the task run has no node run"))
        self._finish_task(planned, task, outcome)

    def _finish_task(self, planned: PlannedRun, task: Task, outcome: TaskOutcome) -> None:
        # released first: of two tasks finishing at once, the second to get the run's lock sees
        # neither live and ends a cancelled run (each saw the other live when released after)
        planned.release(task)
        try:
            planned.task_finished(task, outcome)
        except Exception:
            log.exception("finishing task %s of run %s failed", task.key, planned.run.id)
        finally:
            self.ledger.release(task)
            self._forget_if_done(planned)
            self.wake()

    def _forget_if_done(self, planned: PlannedRun) -> None:
        if planned.finished:
            with self._lock:
                self._runs.pop(planned.run.id, None)

    def _check_cancel_flags(self) -> None:
        with self._lock:
            ids = list(self._runs)
        for run_id, (whole, _) in self._engine.catalog.cancel_flags(ids).items():
            if whole:
                self.cancel(run_id)
