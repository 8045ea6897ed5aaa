"""What the run timeline needs beyond one run's node runs: each attempt of a node run (a retry
starts a new attempt; the node run row keeps only its first start, its last end and the last
attempt's number), and the chain of runs one run belongs to (a max-runtime restart or a resume
starts a new run that points back with ``parent_run_id``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import Run
from .catalog import Catalog
from .records import run_from_row


@dataclass(frozen=True)
class Attempt:
    node_run_id: int
    attempt: int
    started_at: float
    finished_at: float | None
    status: str          # how the attempt ended ("failed", "timeout", ...); "" while it runs


def attempt_started(catalog: Catalog, node_run_id: int, attempt: int, at: float) -> None:
    with catalog._tx() as db:
        db.execute("INSERT OR REPLACE INTO node_run_attempts (node_run_id, attempt, started_at, finished_at, status)"
                   " VALUES (?, ?, ?, NULL, '')", (node_run_id, attempt, at))


def attempt_ended(catalog: Catalog, node_run_id: int, attempt: int, at: float, status: str) -> None:
    with catalog._tx() as db:
        db.execute("UPDATE node_run_attempts SET finished_at = ?, status = ? WHERE node_run_id = ? AND attempt = ?",
                   (at, status, node_run_id, attempt))


def attempts_of_runs(catalog: Catalog, run_ids: list[int]) -> dict[int, list[Attempt]]:
    """node run id -> its recorded attempts in order, for every node run of these runs (runs
    from before attempts were recorded have none)."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    rows = catalog._rows(f"SELECT a.* FROM node_run_attempts a JOIN node_runs nr ON nr.id = a.node_run_id"
                         f" WHERE nr.run_id IN ({marks}) ORDER BY a.node_run_id, a.attempt", tuple(run_ids))
    result: dict[int, list[Attempt]] = {}
    for r in rows:
        result.setdefault(r["node_run_id"], []).append(
            Attempt(r["node_run_id"], r["attempt"], r["started_at"], r["finished_at"], r["status"]))
    return result


def run_chain(catalog: Catalog, run_id: int, limit: int = 50) -> list[Run]:
    """The runs of ``run_id``'s chain of restarts and resumes, oldest first: its first run and
    every run started again from it (``parent_run_id`` points at the first run for a restart, at
    the interrupted run for a resume). A run on its own is a chain of one."""
    ids = {run_id}
    rows = catalog._rows("SELECT id, parent_run_id FROM runs WHERE id = ?", (run_id,))
    while rows and rows[0]["parent_run_id"] is not None and rows[0]["parent_run_id"] not in ids \
            and len(ids) < limit:
        ids.add(rows[0]["parent_run_id"])
        rows = catalog._rows("SELECT id, parent_run_id FROM runs WHERE id = ?", (rows[0]["parent_run_id"],))
    frontier = set(ids)
    while frontier and len(ids) < limit:
        marks = ",".join("?" * len(frontier))
        found = {r["id"] for r in catalog._rows(f"SELECT id FROM runs WHERE parent_run_id IN ({marks})",
                                                tuple(frontier))}
        frontier = found - ids
        ids |= frontier
    marks = ",".join("?" * len(ids))
    return [run_from_row(r) for r in
            catalog._rows(f"SELECT * FROM runs WHERE id IN ({marks}) ORDER BY id LIMIT ?", (*ids, limit))]
