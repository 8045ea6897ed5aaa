"""Start-up reconciliation: a run left "running" by a controller that is gone is marked
interrupted, so nothing stays running forever and no orphan blocks later runs.
(Re-attaching to detached runs on their nodes comes with durable runs.)"""

from __future__ import annotations

import os
import socket
import time

from ..core.status import NodeRunStatus, RunStatus
from ..store.catalog import Catalog


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        import psutil
        return psutil.pid_exists(pid)
    except ImportError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def reconcile_orphans(catalog: Catalog, active_here: set[int]) -> list[int]:
    """Mark runs of dead controllers on this host as interrupted; returns their ids."""
    host = socket.gethostname()
    fixed = []
    for run in catalog.active_runs():
        if run.id in active_here or run.owner_host != host:
            continue
        if run.owner_pid and run.owner_pid != os.getpid() and pid_alive(run.owner_pid):
            continue
        for nr in catalog.node_runs(run.id):
            if not nr.status.is_final:
                catalog.update_node_run(nr.id, status=NodeRunStatus.INTERRUPTED, finished_at=time.time(),
                                        message="the LabDeck process running it ended before it finished")
        catalog.finish_run(run.id, RunStatus.INTERRUPTED)
        fixed.append(run.id)
    return fixed
