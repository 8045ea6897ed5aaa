"""Start-up reconciliation of runs left "running" by a LabDeck process that is gone.

Node runs that were attached to that process are marked interrupted (nothing stays running
forever, no orphan blocks later runs). Detached node runs go on on their nodes: they stay
running, and a long-lived process (the app, the daemon) adopts the run and re-attaches."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import psutil

from ..core.models import Run
from ..core.status import NodeRunStatus, RunStatus
from ..store.catalog import Catalog
from ..store.detached import DetachedStore
from .adopted_arrays import carried_on_by_its_tasks

# psutil's creation times come from the boot time in whole seconds on Linux; allow for that.
CREATE_TIME_SLACK_S = 2.0


def controller_alive(pid: int, run_started_at: float | None) -> bool:
    """Whether the process that started a run (its owner pid) still runs. Never signals it: on
    Windows ``os.kill(pid, 0)`` would terminate the process. A process created after the run
    started only reused the pid, so the owner is gone."""
    if pid == os.getpid():
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # it exists, owned by someone else: assume it may be the owner
        return True
    return run_started_at is None or created <= run_started_at + CREATE_TIME_SLACK_S


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (any process; see controller_alive)."""
    return controller_alive(pid, None)


def reconcile_orphans(catalog: Catalog, active_here: set[int], adopt: Callable[[Run], object] | None = None,
                      interrupted: list | None = None,
                      adopt_array: Callable[[Run], object] | None = None) -> list[int]:
    """Runs of dead LabDeck processes on this host: attached node runs are marked interrupted
    (and appended to ``interrupted``, for their leftovers on the nodes to be killed); a run with
    detached node runs stays running and is handed to ``adopt`` (when given); an array run
    whose tasks were all submitted detached (one Slurm array) stays running and is handed to
    ``adopt_array``. Returns the ids of the runs that were ended here."""
    host = socket.gethostname()
    detached = DetachedStore(catalog)
    fixed = []
    for run in catalog.active_runs():
        if run.id in active_here or run.owner_host != host:
            continue
        if run.owner_pid and run.owner_pid != os.getpid() and controller_alive(run.owner_pid, run.started_at):
            continue
        records = detached.of_run(run.id)
        going_on = False
        for nr in catalog.node_runs(run.id):
            if nr.status.is_final:
                continue
            if nr.id in records:
                going_on = True
                continue
            catalog.update_node_run(nr.id, status=NodeRunStatus.INTERRUPTED, finished_at=time.time(),
                                    message="the LabDeck process running it ended before it finished")
            if interrupted is not None and nr.status is NodeRunStatus.RUNNING:
                interrupted.append(nr)
        if going_on:
            if adopt is not None:
                adopt(run)
            continue
        if carried_on_by_its_tasks(catalog, run):  # its task runs are followed on (adopt above)
            if adopt_array is not None:
                adopt_array(run)
            continue
        catalog.finish_run(run.id, RunStatus.INTERRUPTED)
        fixed.append(run.id)
    return fixed
