"""Re-attaching: a LabDeck process adopts a run whose process is gone and follows its detached
node runs on to their real outcome (the Dispatcher holds one Reattacher)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import LabDeckError
from ..core.events import NodeRunStateChanged
from ..core.models import Job, Node, NodeRun, Run
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
    from .outcome import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunHooks:
    """What re-attaching needs of the dispatcher that owns the runs: to count a run as active, to
    record a node run's end and a run's end (once each), a node run's log writer, and a detached
    run's closing transfer steps."""
    register: Callable[[ActiveRun], None]
    finish_node: Callable[..., None]
    finish_run: Callable[[ActiveRun], None]
    log_writer: Callable[[int, Node, NodeRun], LogWriter]
    collect_after: Callable[..., Outcome | None]


class Reattacher:
    """Adopts a run whose LabDeck process is gone and follows its detached node runs on, each on
    a worker of the dispatcher's pool. It keeps what it uses; the dispatcher's own state is
    reached only through ``RunHooks``."""

    def __init__(self, catalog: Catalog, pool: ExecutorPool, bus: EventBus, detached: DetachedRunner,
                 workers: ThreadPoolExecutor, hooks: RunHooks):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self.detached = detached
        self._workers = workers
        self._hooks = hooks

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
        self._hooks.register(active)
        if not going_on:
            self._hooks.finish_run(active)
        for nr in going_on:
            if nr.id in records:
                self._workers.submit(self._reattach_task, active, nr, records[nr.id])
            else:
                self._hooks.finish_node(active, nr, NodeRunStatus.INTERRUPTED, None,
                                  "the LabDeck process running it ended before it finished")
        return True

    def _reattach_task(self, active: ActiveRun, nr: NodeRun, record: DetachedRecord) -> None:
        try:
            node = self._catalog.get_node(nr.node_name)
        except LabDeckError:
            self._hooks.finish_node(active, nr, NodeRunStatus.LOST, None,
                                    f"node {nr.node_name} is no longer in the catalog")
            return
        try:
            ops = self.detached.ops_for(self._pool.get(node))
            if ops is None:  # the node's transport changed to one without detached runs
                self._hooks.finish_node(active, nr, NodeRunStatus.LOST, None,
                                  f"node {nr.node_name} can no longer follow a detached run (its transport changed)")
                return
            _truncate(nr.log_path, record.log_size)  # the log ends where the saved offsets do
            writer = self._hooks.log_writer(active.run.id, node, nr)
        except Exception as exc:
            log.exception("re-attaching node run %s failed", nr.id)
            self._hooks.finish_node(active, nr, NodeRunStatus.ERROR, None, f"internal error while re-attaching: {exc}")
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
                outcome = self._hooks.collect_after(outcome, node, parts[2], active.run.options, deadline,
                                              active.cancel_node[nr.node_name], writer)
            if outcome is not None:
                self._hooks.finish_node(active, nr, outcome.status, outcome.exit_code,
                                        f"{outcome.message} (re-attached)".strip(), outcome.kill_state, writer)
        except Exception as exc:  # never leave a node run hanging in "running"
            log.exception("re-attached node run %s crashed", nr.id)
            self._hooks.finish_node(active, nr, NodeRunStatus.ERROR, None, f"internal error: {exc}", writer=writer)
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
