"""After a LabDeck process was killed (SIGKILL, a crash, a power cut of this PC) its attached
node runs are marked interrupted at the next start -- but their commands may still run on the
nodes, since nobody was left to stop them. They carry the node run's token
(LABDECK_RUN_TOKEN) in their environment: the next start finds them by it, ends them, and
records that in the node run's message and log."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ..core.errors import LabDeckError
from ..core.models import NodeRun
from ..core.status import KillState
from ..executors.base import DEFAULT_KILL_GRACE_S
from ..executors.pool import ExecutorPool
from ..store.catalog import Catalog
from ..store.identity import run_token

log = logging.getLogger(__name__)


def kill_interrupted_leftovers(catalog: Catalog, pool: ExecutorPool, node_runs: list[NodeRun],
                               wait_s: float | None = None) -> None:
    """One thread per node run, so unreachable nodes cost one connect timeout in all; returns when
    all are done or after ``wait_s`` (the rest finish on their own)."""
    threads = [threading.Thread(target=_kill_one, args=(catalog, pool, nr), daemon=True, name=f"leftovers-{nr.id}")
               for nr in node_runs]
    for thread in threads:
        thread.start()
    end = None if wait_s is None else time.monotonic() + wait_s
    for thread in threads:
        thread.join(None if end is None else max(0.0, end - time.monotonic()))


def _kill_one(catalog: Catalog, pool: ExecutorPool, nr: NodeRun) -> None:
    try:
        node = catalog.get_node(nr.node_name)
        result = pool.get(node).kill_leftovers(run_token(catalog, nr.id), DEFAULT_KILL_GRACE_S)
    except Exception as exc:  # noqa: BLE001 - unreachable, or LabDeck closing meanwhile: said, never fatal
        note = f"its processes on node {nr.node_name} could not be checked ({exc})"
    else:
        if result is None:
            return
        found, state = result
        if not found:
            note = f"nothing of it was left running on node {nr.node_name}"
        elif state is KillState.KILLED:
            note = f"{found} process{'es' if found > 1 else ''} of it left running on node {nr.node_name} were killed"
        else:
            note = (f"{found} process{'es' if found > 1 else ''} of it left running on node {nr.node_name}; "
                    "kill unconfirmed")
    message = f"{nr.message or 'the LabDeck process running it ended before it finished'}; {note}"
    try:
        catalog.update_node_run(nr.id, message=message)
        with open(Path(nr.log_path), "a", encoding="utf-8") as f:
            f.write(f"\n[labdeck] {note} (at the next start, found by the run token)\n")
    except (LabDeckError, OSError) as exc:
        log.warning("node run %s: %s (not recorded: %s)", nr.id, note, exc)
