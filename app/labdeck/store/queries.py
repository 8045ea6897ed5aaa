"""Read-only catalog queries the desktop app needs beyond Catalog's own methods: one query
each instead of one per node, so a page refresh stays cheap with 50 nodes and long histories."""

from __future__ import annotations

import time

from .catalog import Catalog

BAD_RUN_STATUSES = ("failed", "interrupted")


def recent_statuses(catalog: Catalog, limit: int = 8) -> dict[str, list[tuple[int, str]]]:
    """node name -> [(run id, node run status)] of its last ``limit`` node runs, oldest first."""
    rows = catalog._rows(
        "SELECT node_name, run_id, status FROM ("
        " SELECT node_name, run_id, status,"
        "  ROW_NUMBER() OVER (PARTITION BY node_name ORDER BY run_id DESC) AS rn FROM node_runs"
        ") WHERE rn <= ? ORDER BY node_name, run_id", (limit,))
    result: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        result.setdefault(r["node_name"], []).append((r["run_id"], r["status"]))
    return result


def busy_nodes(catalog: Catalog) -> dict[str, int]:
    """node name -> number of node runs running, pending or queued (by a batch scheduler) on it now."""
    rows = catalog._rows(
        "SELECT nr.node_name, COUNT(*) AS n FROM node_runs nr JOIN runs r ON r.id = nr.run_id "
        "WHERE r.status = 'running' AND nr.status IN ('running', 'pending', 'queued') GROUP BY nr.node_name")
    return {r["node_name"]: r["n"] for r in rows}


def start_of_today() -> float:
    t = time.localtime()
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def counts(catalog: Catalog) -> dict[str, int]:
    """Numbers for the status bar: nodes, running runs, runs that failed today."""
    marks = ",".join("?" * len(BAD_RUN_STATUSES))
    row = catalog._rows(
        "SELECT (SELECT COUNT(*) FROM nodes) AS nodes,"
        " (SELECT COUNT(*) FROM runs WHERE status = 'running') AS running,"
        f" (SELECT COUNT(*) FROM runs WHERE status IN ({marks})"
        " AND COALESCE(finished_at, started_at) >= ?) AS failed_today",
        (*BAD_RUN_STATUSES, start_of_today()))[0]
    return dict(row)


def recent_failures(catalog: Catalog, limit: int = 5) -> list[dict]:
    marks = ",".join("?" * len(BAD_RUN_STATUSES))
    return catalog._rows(
        f"SELECT id, job_name, status, started_at FROM runs WHERE status IN ({marks}) ORDER BY id DESC LIMIT ?",
        (*BAD_RUN_STATUSES, limit))


def last_run_per_job(catalog: Catalog) -> dict[str, dict]:
    """job name -> its newest run (id, status, started_at)."""
    rows = catalog._rows(
        "SELECT r.job_name, r.id, r.status, r.started_at FROM runs r"
        " JOIN (SELECT job_name, MAX(id) AS id FROM runs GROUP BY job_name) m ON m.id = r.id")
    return {r["job_name"]: r for r in rows}


def active_runs_of_job(catalog: Catalog, job_name: str) -> list[int]:
    return [r["id"] for r in catalog._rows(
        "SELECT id FROM runs WHERE job_name = ? AND status = 'running' ORDER BY id", (job_name,))]


def last_results(catalog, since: float) -> dict[int, dict]:
    """schedule id -> its newest history entry (id, status, started_at, scheduled_for, note) and
    how many of its fires were missed since ``since``. One query."""
    rows = catalog._rows(
        "SELECT r.schedule_id, r.id, r.status, r.started_at, r.scheduled_for, r.note,"
        " (SELECT COUNT(*) FROM runs m WHERE m.schedule_id = r.schedule_id AND m.status = 'missed'"
        "  AND m.scheduled_for >= ?) AS missed_recent"
        " FROM runs r JOIN (SELECT schedule_id, MAX(id) AS id FROM runs WHERE schedule_id IS NOT NULL"
        "  GROUP BY schedule_id) x ON x.id = r.id", (since,))
    return {r["schedule_id"]: r for r in rows}
