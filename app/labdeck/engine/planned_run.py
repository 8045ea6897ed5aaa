"""What a workflow run and an array run have in common: a parent run in the catalog whose work
is split into tasks, each placed on a node by the run queue and executed there as a task run
by the dispatcher. This base keeps the parent run's lifecycle (queued, running, finished),
its per-node slot counts and its cancel; subclasses say which tasks are ready and what a
finished task means."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.events import QueueChanged, RunFinished, RunStarted
from ..core.job_plan import Resources
from ..core.models import Job, Node, Run, Step, Trigger
from ..core.status import NodeRunStatus, RunStatus
from ..store import run_queue as queue_store


@dataclass(eq=False)
class Task:
    """One unit of placement: runs ``steps`` on one node chosen from ``candidates``."""
    key: str                      # the task run's label: a step name (step@node) or an array index
    candidates: list[Node]
    resources: Resources
    steps: list[Step]
    node: Node | None = None      # where it was placed
    child_run_id: int | None = None
    placed: bool = False          # given to the run queue's launcher (or failed as impossible)
    data: dict = field(default_factory=dict)  # the subclass's own (step name, item, ...)
    note: str = ""                # recorded on the task run (an array item's value)


@dataclass
class TaskOutcome:
    status: NodeRunStatus
    exit_code: int | None
    message: str


class PlannedRun:
    slots_per_node = 0    # 0: no per-run limit
    uniform_tasks = False  # every task has the same candidates and request (an array)

    def __init__(self, engine, run: Run, job: Job):
        self.engine = engine
        self.run = run
        self.job = job
        self.lock = threading.RLock()
        self.done = threading.Event()
        self.cancelled = False
        self.finished = False
        self.final: tuple[RunStatus, str] | None = None
        self.reason = ""
        self._started = False
        self._running_on: dict[str, int] = {}
        self._live: set[Task] = set()  # placed and not finished
        self._again: list[Task] = []   # placed once, to be placed again (their node went down)

    # ---- for the run queue ---------------------------------------------------------------

    def ready_tasks(self) -> list[Task]:
        """Tasks that may be placed now, in order."""
        raise NotImplementedError

    def prepare(self, task: Task, node: Node) -> tuple[list[Step], dict[str, str]]:
        """Work before the task runs (on a launch thread): its steps and extra environment."""
        return task.steps, {}

    def task_finished(self, task: Task, outcome: TaskOutcome) -> None:
        raise NotImplementedError

    @property
    def tasks_total(self) -> int:
        """How many tasks the whole run has (the queue shows it)."""
        raise NotImplementedError

    def slot_free(self, node_name: str) -> bool:
        with self.lock:
            return not self.slots_per_node or self._running_on.get(node_name, 0) < self.slots_per_node

    def take_placed(self, task: Task, node: Node | None) -> None:
        """Mark a task placed (the first placement starts the parent run); None: it never can be."""
        with self.lock:
            task.placed = True
            task.node = node
            self._live.add(task)
            if node is not None:
                self._running_on[node.name] = self._running_on.get(node.name, 0) + 1
            first = not self._started and node is not None
            self._started = self._started or node is not None
        if first:
            self.run.started_at = queue_store.mark_running(self.engine.catalog, self.run.id)
            assert node is not None  # first implies a node
            self.engine.bus.publish(RunStarted(self.run.id, self.job.name, (node.name,)))  # its first node

    def release(self, task: Task) -> None:
        with self.lock:
            self._live.discard(task)
            if task.node is not None:
                self._running_on[task.node.name] = max(0, self._running_on.get(task.node.name, 1) - 1)

    def requeue(self, task: Task, why: str) -> None:
        """The task's node went down under it: place it again (on another node if it can)."""
        with self.lock:
            self._live.discard(task)
            if task.node is not None:
                self._running_on[task.node.name] = max(0, self._running_on.get(task.node.name, 1) - 1)
            task.placed, task.node, task.child_run_id = False, None, None
            task.note = (task.note.split(" (moved:")[0] + f" (moved: {why})")[:200]
            self._again.append(task)
        self.requeued_task(task)

    def requeued_task(self, task: Task) -> None:
        """A subclass's own bookkeeping for a task placed again."""

    def take_requeued(self) -> list[Task]:
        """Tasks to place again, before the ready ones."""
        with self.lock:
            if self.cancelled or self.finished:
                return []
            self._again = [t for t in self._again if not t.placed]
            return list(self._again)

    def live_tasks(self) -> int:
        with self.lock:
            return len(self._live)

    def set_reason(self, reason: str) -> None:
        if reason != self.reason:
            self.reason = reason
            queue_store.set_reason(self.engine.catalog, self.run.id, reason)
            self.engine.bus.publish(QueueChanged())

    # ---- cancel and finish -----------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    def cancel(self, final: tuple[RunStatus, str] | None = None) -> None:
        """No new task starts; running task runs are cancelled; the run ends when they have
        (with ``final``'s status and note if given, e.g. by the max-runtime rule)."""
        with self.lock:
            if self.cancelled or self.finished:
                return
            self.cancelled = True
            self.final = final
            children = [t.child_run_id for t in self._live if t.child_run_id is not None]
            idle = not self._live
            also = self.cancelling()
        if also is not None:
            also()
        for child in children:
            self.engine.dispatcher.cancel(child)
        if idle:  # between two tasks: nothing to wait for
            self.finish(RunStatus.CANCELLED, self.cancelled_note())

    def cancelling(self) -> Callable[[], None] | None:
        """A subclass's own part of a cancel, decided under the lock (so it sees whatever a
        task's ``prepare`` did before it) and done after it, before the task runs are cancelled."""
        return None

    def cancelled_note(self) -> str:
        """The note a run the user cancelled ends with."""
        return "cancelled"

    def finish(self, status: RunStatus, note: str = "") -> None:
        with self.lock:
            if self.finished:
                return
            self.finished = True
            if self.final is not None:
                status, note = self.final
        if self.run.trigger is Trigger.RESUME:  # the history keeps why it ran: "resumed by itself: ...; 2 / 2 done"
            why = self.engine.catalog.get_run(self.run.id).note or ""
            note = f"{why}; {note}" if why and note else (why or note)
        self.engine.catalog.finish_run(self.run.id, status, note or None)
        self.set_reason("")
        self.engine.bus.publish(RunFinished(self.run.id, self.job.name, status))
        self.done.set()
