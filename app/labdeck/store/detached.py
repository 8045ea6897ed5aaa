"""Where each detached node run lives on its node, and how far LabDeck has read its output.

A detached command keeps running on its node whatever happens to LabDeck; this table is what
a later LabDeck process needs to find it again: the run folder on the node, the process
group, the wall-clock deadline, and the byte offsets of stdout and stderr already written to
the local log (with the log's size at that moment, so a re-attach never writes a line twice)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from .catalog import Catalog

from .identity import catalog_token


@dataclass
class DetachedRecord:
    node_run_id: int
    node_name: str
    remote_dir: str
    pgid: int | None = None
    deadline_at: float | None = None   # time.time() value; None: no timeout
    kill_grace_s: float = 3.0
    out_offset: int = 0
    err_offset: int = 0
    log_size: int = 0
    lost_since: float | None = None
    reattached: int = 0                # how many times a new LabDeck process picked it up
    launched_at: float = 0.0


class DetachedStore:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def add(self, record: DetachedRecord) -> None:
        """Recorded before the launch, so a crash right after it still finds the folder."""
        record.launched_at = record.launched_at or time.time()
        with self.catalog._tx() as db:
            db["detached_runs"].insert(vars(record), replace=True)

    def get(self, node_run_id: int) -> DetachedRecord | None:
        rows = self.catalog._rows("SELECT * FROM detached_runs WHERE node_run_id = ?", (node_run_id,))
        return DetachedRecord(**rows[0]) if rows else None

    def of_run(self, run_id: int) -> dict[int, DetachedRecord]:
        """node run id -> record, for the node runs of one run that were launched detached."""
        rows = self.catalog._rows(
            "SELECT d.* FROM detached_runs d JOIN node_runs n ON n.id = d.node_run_id WHERE n.run_id = ?", (run_id,))
        return {r["node_run_id"]: DetachedRecord(**r) for r in rows}

    def update(self, node_run_id: int, **changes) -> None:
        with self.catalog._tx() as db:
            db["detached_runs"].update(node_run_id, changes)

    def claim(self, run) -> bool:
        """Make this process the owner of a run whose owner is gone; False if another process
        claimed it first (two LabDeck processes starting at once never both follow a run)."""
        with self.catalog._tx() as db:
            hit = db.execute(
                "UPDATE runs SET owner_pid = ?, owner_host = ? WHERE id = ? AND status = 'running'"
                " AND owner_pid IS ? AND owner_host IS ?",
                (os.getpid(), socket.gethostname(), run.id, run.owner_pid, run.owner_host)).rowcount
        return hit == 1

    def token(self) -> str:
        """A short id of this catalog, so two catalogs using one node account never share a run folder."""
        return catalog_token(self.catalog)
