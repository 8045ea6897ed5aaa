"""Re-attaching: a LabDeck process adopts a run whose process is gone and follows its detached
node runs on to their real outcome (part of the Dispatcher, kept apart for size)."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..core.errors import LabDeckError
from ..core.events import NodeRunStateChanged
from ..core.models import Job, NodeRun, Run
from ..core.status import NodeRunStatus
from ..executors.base import Deadline
from ..store.detached import DetachedRecord
from .active_run import ActiveRun
from .transfer_steps import split_around_work

if TYPE_CHECKING:
    from ..executors.pool import ExecutorPool
    from ..store.catalog import Catalog
    from ..store.logs import LogWriter
    from .bus import EventBus
    from .detached import DetachedRunner

log = logging.getLogger(__name__)


class ReattachMixin:
    """Needs the Dispatcher's _catalog, _pool, _bus, _lock, _active, _workers, detached,
    _log_writer, _finish_node and _finish_run."""

    # what the Dispatcher provides (declared for the type checker)
    _catalog: Catalog
    _pool: ExecutorPool
    _bus: EventBus
    _lock: threading.Lock
    _active: dict[int, ActiveRun]
    _workers: ThreadPoolExecutor
    detached: DetachedRunner

    if TYPE_CHECKING:
        def _log_writer(self, run_id: int, node, nr: NodeRun) -> LogWriter: ...
        def _finish_node(self, active: ActiveRun, nr: NodeRun, status: NodeRunStatus, exit_code: int | None,
                         message: str, kill_state=None, writer: LogWriter | None = None) -> None: ...
        def _finish_run(self, active: ActiveRun) -> None: ...
        def _collect_after(self, outcome, node, after, options: dict[str, str], deadline: Deadline, stop,
                           writer: LogWriter): ...

    def adopt(self, run: Run) -> bool:
        """Follow on the detached node runs of a run whose LabDeck process is gone (see reconcile)."""
        if not self.detached.store.claim(run):
            return False
        try:
            job = self._catalog.get_job(run.job_name)
        except LabDeckError:
            job = Job(name=run.job_name, steps=[], targets=run.targets)
        node_runs = self._catalog.node_runs(run.id)
        records = self.detached.store.of_run(run.id)
        going_on = [nr for nr in node_runs if not nr.status.is_final]
        active = ActiveRun(run=run, job=job, nodes={}, node_runs=node_runs, remaining=len(going_on),
                            finished={nr.id for nr in node_runs if nr.status.is_final})
        active.cancel_node = {nr.node_name: threading.Event() for nr in node_runs}
        with self._lock:
            self._active[run.id] = active
        if not going_on:
            self._finish_run(active)
        for nr in going_on:
            if nr.id in records:
                self._workers.submit(self._reattach_task, active, nr, records[nr.id])
            else:
                self._finish_node(active, nr, NodeRunStatus.INTERRUPTED, None,
                                  "the LabDeck process running it ended before it finished")
        return True

    def _reattach_task(self, active: ActiveRun, nr: NodeRun, record: DetachedRecord) -> None:
        try:
            node = self._catalog.get_node(nr.node_name)
        except LabDeckError:
            self._finish_node(active, nr, NodeRunStatus.LOST, None, f"node {nr.node_name} is no longer in the catalog")
            return
        try:
            ops = self.detached.ops_for(self._pool.get(node))
            if ops is None:  # the node's transport changed to one without detached runs
                self._finish_node(active, nr, NodeRunStatus.LOST, None,
                                  f"node {nr.node_name} can no longer follow a detached run (its transport changed)")
                return
            _truncate(nr.log_path, record.log_size)  # the log ends where the saved offsets do
            writer = self._log_writer(active.run.id, node, nr)
        except Exception as exc:
            log.exception("re-attaching node run %s failed", nr.id)
            self._finish_node(active, nr, NodeRunStatus.ERROR, None, f"internal error while re-attaching: {exc}")
            return
        try:
            message = f"re-attached by a new LabDeck process after the previous one stopped ({nr.node_name})"
            writer.note(message)
            self.detached.store.update(nr.id, reattached=record.reattached + 1, log_size=_file_size(nr.log_path))
            self._catalog.update_node_run(nr.id, message=message)
            self._bus.publish(NodeRunStateChanged(active.run.id, nr.id, nr.node_name, nr.status, message))
            outcome = self.detached.follow(ops, active.run.id, node.name, nr, record, writer,
                                           active.cancel_node[nr.node_name])
            parts = split_around_work(active.job.steps)
            if parts and parts[2]:
                left = record.deadline_at - time.time() if record.deadline_at else None
                deadline = Deadline(None) if left is None else Deadline.after(max(0.001, left))
                outcome = self._collect_after(outcome, node, parts[2], active.run.options, deadline,
                                              active.cancel_node[nr.node_name], writer)
            if outcome is not None:
                status, exit_code, note, kill_state = outcome
                self._finish_node(active, nr, status, exit_code, f"{note} (re-attached)".strip(), kill_state, writer)
        except Exception as exc:  # never leave a node run hanging in "running"
            log.exception("re-attached node run %s crashed", nr.id)
            self._finish_node(active, nr, NodeRunStatus.ERROR, None, f"internal error: {exc}", writer=writer)
        finally:
            writer.close()


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _truncate(path: str, size: int) -> None:
    """Cut what was written after the last saved offsets (it is read again from the node)."""
    if _file_size(path) > size:
        with open(path, "r+b") as f:
            f.truncate(size)
