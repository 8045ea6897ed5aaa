"""Items of a workflow or array whose node stopped answering under a *detached* command.

Such a task run is ``node_lost``: its command may still be running on the node, and its
follower records the real outcome when the node answers again. Under the job's
``unreachable: move`` the item does not wait for that: at once (under ``wait``: once the node
has been lost for ``unreachable_wait_s``) the node is marked down, the item is placed again on
another matching node, and the old task run is cancelled -- its follower kills the command by
its process group and run token as soon as the node answers, and records that. Both task runs
stay in the item's history: the old one's note says what became of it, the new one's says it
moved. Under ``fail`` the item waits for the node, as any detached command does."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..core.events import NodeRunStateChanged
from ..core.status import NodeRunStatus
from ..store import run_queue as queue_store

if TYPE_CHECKING:
    from .planned_run import PlannedRun, Task
    from .run_queue import RunQueue

log = logging.getLogger(__name__)


class LostTasks:
    def __init__(self, queue: RunQueue, engine):
        self._queue = queue
        self._engine = engine
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def node_lost(self, planned: PlannedRun, task: Task, event: NodeRunStateChanged) -> None:
        """A task run of ``planned`` went node_lost (engine/heartbeat.py)."""
        policy = planned.job.policy
        if policy.unreachable == "move":
            self._move(planned, task, event)
        elif policy.unreachable == "wait":
            timer = threading.Timer(policy.unreachable_wait_s, self._move, (planned, task, event))
            timer.daemon = True
            with self._lock:
                self._timers = [t for t in self._timers if t.is_alive()] + [timer]
            timer.start()

    def _move(self, planned: PlannedRun, task: Task, event: NodeRunStateChanged) -> None:
        catalog = self._engine.catalog
        nr = catalog.get_node_run(event.node_run_id)
        if nr.status is not NodeRunStatus.NODE_LOST or planned.cancelled or planned.finished:
            return  # it answered again (within the wait), or the run is over
        if not self._queue.release_child(event.run_id, planned, task):
            return  # finished or moved meanwhile
        reason = f"its detached command there is lost ({nr.message or 'no answer'})"
        self._engine.health.mark_down(event.node, reason, announce=True)  # nothing new goes there either
        self._queue.ledger.release(task)
        planned.requeue(task, f"{event.node} lost")
        queue_store.add_note(catalog, event.run_id,
                             f"{event.node} stopped answering: the item was placed again on another node; this "
                             f"command is killed when {event.node} answers again")
        log.warning("run %s: item %s moved off %s (its detached command is killed when the node is back)",
                    planned.run.id, task.key, event.node)
        self._engine.cancel(event.run_id)  # the follower kills it, by its process group and run token
        self._queue.wake()

    def close(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
