"""Read-only queries for the app's charts and the nodes grid: a job's recent run durations, a node's
recent runs, when each node was last found unreachable."""

from __future__ import annotations

from .catalog import Catalog


def job_durations(catalog: Catalog, job_name: str, limit: int = 40) -> list[dict]:
    """The job's last ``limit`` finished runs, oldest first: id, status, started_at, seconds."""
    rows = catalog._rows(
        "SELECT id, status, started_at, finished_at FROM runs WHERE job_name = ? AND finished_at IS NOT NULL"
        " AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?", (job_name, limit))
    return [{"id": r["id"], "status": r["status"], "started_at": r["started_at"],
             "seconds": max(0.0, r["finished_at"] - r["started_at"])} for r in reversed(rows)]


def node_recent_runs(catalog: Catalog, node_name: str, limit: int = 12) -> list[dict]:
    """The node's last node runs, newest first, with their job: run id, job, status, start, seconds."""
    rows = catalog._rows(
        "SELECT nr.run_id, r.job_name, nr.status, nr.started_at, nr.finished_at, nr.exit_code"
        " FROM node_runs nr JOIN runs r ON r.id = nr.run_id WHERE nr.node_name = ?"
        " ORDER BY nr.id DESC LIMIT ?", (node_name, limit))
    return [dict(r, seconds=(r["finished_at"] - r["started_at"]) if r["finished_at"] and r["started_at"] else None)
            for r in rows]


def last_unreachable(catalog: Catalog, node_names: list[str]) -> dict[str, float]:
    """node name -> when its latest 'unreachable' node run ended (or started), for these nodes
    only (the grid asks for the few whose last run was unreachable; the index on node_runs
    (node_name, run_id) keeps each lookup short)."""
    if not node_names:
        return {}
    marks = ",".join("?" * len(node_names))
    rows = catalog._rows(f"SELECT node_name, MAX(COALESCE(finished_at, started_at, 0)) AS at FROM node_runs"
                         f" WHERE node_name IN ({marks}) AND status = 'unreachable' GROUP BY node_name",
                         tuple(node_names))
    return {r["node_name"]: r["at"] for r in rows}
