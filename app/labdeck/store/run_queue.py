"""The run queue in the catalog: each planned run's priority, its place in line (``seq``, first
in first out within a priority), its task count and why it waits — so another process (the
CLI beside the app) can see and reorder it, and a restart keeps it. Also the task runs of a
workflow or array run, and its progress."""

from __future__ import annotations

import json
import time

from ..core.errors import InvalidInput, NotFound
from ..core.models import Run
from .catalog import Catalog
from .records import run_from_row

WAITING_STATUSES = ("queued", "running")


def enqueue(catalog: Catalog, run_id: int, priority: int, tasks_total: int,
            only_tasks: list[int] | None = None) -> None:
    """``only_tasks``: an array run of just these item indexes (a re-run of failed items)."""
    with catalog._tx() as db:
        row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM run_queue").fetchone()
        db.table("run_queue").insert({"run_id": run_id, "priority": priority, "seq": float(row[0]) + 1,
                                "tasks_total": tasks_total, "only_tasks": json.dumps(only_tasks or []),
                                "queued_at": time.time()}, replace=True)


def only_tasks(catalog: Catalog, run_id: int) -> list[int] | None:
    rows = catalog._rows("SELECT only_tasks FROM run_queue WHERE run_id = ?", (run_id,))
    return (json.loads(rows[0]["only_tasks"]) or None) if rows else None


def entries(catalog: Catalog, run_ids: list[int] | None = None) -> list[dict]:
    """Queued and running planned runs in queue order: run_id, job_name, status, priority, seq,
    tasks_total, reason, queued_at, position (1-based)."""
    sql = ("SELECT q.run_id, r.job_name, r.status, q.priority, q.seq, q.tasks_total, q.reason, q.queued_at "
           "FROM run_queue q JOIN runs r ON r.id = q.run_id WHERE r.status IN ('queued', 'running')")
    params: tuple = ()
    if run_ids is not None:
        if not run_ids:
            return []
        sql += f" AND q.run_id IN ({','.join('?' * len(run_ids))})"
        params = tuple(run_ids)
    rows = catalog._rows(sql + " ORDER BY q.priority DESC, q.seq", params)
    for position, row in enumerate(rows, 1):
        row["position"] = position
    return rows


def set_priority(catalog: Catalog, run_id: int, priority: int) -> None:
    with catalog._tx() as db:
        _require(db, run_id)
        db.table("run_queue").update(run_id, {"priority": priority})


def move(catalog: Catalog, run_id: int, direction: str) -> None:
    """One place ``up`` or ``down`` in line (taking the neighbour's priority when it differs)."""
    if direction not in ("up", "down"):
        raise InvalidInput(f"move '{direction}': use up or down")
    line = entries(catalog)
    index = next((i for i, e in enumerate(line) if e["run_id"] == run_id), None)
    if index is None:
        raise NotFound(f"run {run_id} is not in the queue (see: labdeck queue)")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(line):
        return
    me, them = line[index], line[other]
    with catalog._tx() as db:
        if me["priority"] == them["priority"]:
            db.table("run_queue").update(run_id, {"seq": them["seq"]})
            db.table("run_queue").update(them["run_id"], {"seq": me["seq"]})
        else:
            step = -0.5 if direction == "up" else 0.5
            db.table("run_queue").update(run_id, {"priority": them["priority"], "seq": them["seq"] + step})


def mark_running(catalog: Catalog, run_id: int) -> float:
    """A queued run whose first task started: it is running, and started now (the time it was
    queued stays in the queue's row). Returns the start time."""
    now = time.time()
    with catalog._tx() as db:
        db.execute("UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
                   (now, run_id))
    return now


def queued_runs(catalog: Catalog) -> list[Run]:
    """Runs still waiting in the queue with nothing started, oldest first."""
    return [run_from_row(r) for r in catalog._rows("SELECT * FROM runs WHERE status = 'queued' ORDER BY id")]


def adopt(catalog: Catalog, run_id: int, pid: int, host: str) -> None:
    with catalog._tx() as db:
        db.table("runs").update(run_id, {"owner_pid": pid, "owner_host": host})


def set_reason(catalog: Catalog, run_id: int, reason: str) -> None:
    with catalog._tx() as db:
        db.execute("UPDATE run_queue SET reason = ? WHERE run_id = ?", (reason, run_id))


def priorities(catalog: Catalog, run_ids: list[int]) -> dict[int, tuple[int, float]]:
    """run id -> (priority, seq), as it is in the catalog now (another process may have moved it)."""
    if not run_ids:
        return {}
    rows = catalog._rows(f"SELECT run_id, priority, seq FROM run_queue WHERE run_id IN "
                         f"({','.join('?' * len(run_ids))})", tuple(run_ids))
    return {r["run_id"]: (r["priority"], r["seq"]) for r in rows}


def task_runs(catalog: Catalog, run_id: int) -> list[tuple[Run, dict]]:
    """The task runs of a workflow or array run, oldest first, each with its node run's fields
    (node_name, status, attempt, exit_code, started_at, finished_at, log_path, message)."""
    rows = catalog._rows(
        "SELECT r.*, nr.node_name AS nr_node_name, nr.status AS nr_status, nr.attempt AS nr_attempt, "
        "nr.exit_code AS nr_exit_code, nr.started_at AS nr_started_at, nr.finished_at AS nr_finished_at, "
        "nr.log_path AS nr_log_path, nr.message AS nr_message FROM runs r LEFT JOIN node_runs nr ON nr.run_id = r.id "
        "WHERE r.workflow_run_id = ? ORDER BY r.id", (run_id,))
    result = []
    for row in rows:
        extra = {k[3:]: row.pop(k) for k in list(row) if k.startswith("nr_")}
        result.append((run_from_row(row), extra))
    return result


def placed_and_detached(catalog: Catalog, run_id: int) -> bool:
    """Whether every task of a planned run has its task run and none still going on is attached
    (each one's node runs are detached, so they outlive the process that started them)."""
    rows = catalog._rows(
        "SELECT q.tasks_total, (SELECT COUNT(DISTINCT task) FROM runs WHERE workflow_run_id = q.run_id) AS placed, "
        "(SELECT COUNT(*) FROM runs c JOIN node_runs n ON n.run_id = c.id LEFT JOIN detached_runs d "
        " ON d.node_run_id = n.id WHERE c.workflow_run_id = q.run_id AND c.status IN ('queued', 'running') "
        " AND d.node_run_id IS NULL) AS attached FROM run_queue q WHERE q.run_id = ?", (run_id,))
    return bool(rows) and rows[0]["placed"] >= max(1, rows[0]["tasks_total"]) and rows[0]["attached"] == 0


def latest_task_statuses(catalog: Catalog, run_id: int) -> dict[str, tuple[str, str]]:
    """task -> (status, note) of its latest task run."""
    rows = catalog._rows("SELECT task, status, note FROM runs WHERE id IN (SELECT MAX(id) FROM runs "
                         "WHERE workflow_run_id = ? GROUP BY task)", (run_id,))
    return {r["task"]: (r["status"], r["note"]) for r in rows}


def progress(catalog: Catalog, run_id: int) -> dict:
    """total, done (succeeded), failed, running, queued (in a batch scheduler's queue: a Slurm
    array's pending tasks) and waiting tasks of a planned run. An item that is retried counts
    once, by the outcome of its latest task run."""
    total_row = catalog._rows("SELECT tasks_total FROM run_queue WHERE run_id = ?", (run_id,))
    latest = catalog._rows(
        "SELECT r.status, (SELECT nr.status FROM node_runs nr WHERE nr.run_id = r.id ORDER BY nr.id DESC LIMIT 1) "
        "AS node_status FROM runs r WHERE r.id IN (SELECT MAX(id) FROM runs WHERE workflow_run_id = ? "
        "GROUP BY task)", (run_id,))
    counts = {"done": 0, "failed": 0, "running": 0, "queued": 0}
    for row in latest:
        status = row["status"]
        key = "done" if status == "succeeded" else "running" if status in WAITING_STATUSES else "failed"
        if key == "running" and row["node_status"] == "queued":
            key = "queued"
        counts[key] += 1
    total = total_row[0]["tasks_total"] if total_row else len(latest)
    return {"total": total, **counts, "waiting": max(0, total - sum(counts.values()))}


def is_planned(catalog: Catalog, run_id: int) -> bool:
    """A workflow, array or queued run (it has a place in the queue, now or when it ran)."""
    return bool(catalog._rows("SELECT 1 FROM run_queue WHERE run_id = ?", (run_id,)))


def describe_progress(p: dict) -> str:
    text = f"{p['done']} / {p['total']} done"
    if p["failed"]:
        text += f", {p['failed']} failed"
    if p["running"]:
        text += f", {p['running']} running"
    if p.get("queued"):
        text += f", {p['queued']} queued"
    return text


def _require(db, run_id: int) -> None:
    if not db.execute("SELECT 1 FROM run_queue WHERE run_id = ?", (run_id,)).fetchone():
        raise NotFound(f"run {run_id} is not in the queue (see: labdeck queue)")


def step_states(catalog: Catalog, run_id: int, names: list[str]) -> dict[str, str]:
    """A workflow run's step states as its task runs recorded them (for a run this process does
    not hold): running while any task runs, failed if any failed, else succeeded; a step with no
    task run is pending while the run goes on and skipped once it has ended."""
    run = catalog.get_run(run_id)
    by_step: dict[str, list[str]] = {}
    for task, info in task_runs(catalog, run_id):
        by_step.setdefault(task.task.split("@", 1)[0], []).append(info["status"] or str(task.status))
    states = {}
    for name in names:
        seen = by_step.get(name)
        if not seen:
            states[name] = "skipped" if run.status.is_final else "pending"
        elif any(s in ("running", "pending", "queued") for s in seen):
            states[name] = "running"
        elif all(s == "succeeded" for s in seen):
            states[name] = "succeeded"
        elif any(s == "cancelled" for s in seen):
            states[name] = "cancelled"
        else:
            states[name] = "failed"
    return states


def interrupted_to_resume(catalog: Catalog, since: float) -> list[Run]:
    """Workflow and array runs that ended ``interrupted`` after ``since``, were not themselves
    resumes, and have not been resumed yet; oldest first."""
    rows = catalog._rows(
        "SELECT r.* FROM runs r JOIN run_queue q ON q.run_id = r.id WHERE r.status = 'interrupted' "
        "AND r.finished_at >= ? AND r.trigger != 'resume' AND r.workflow_run_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM runs x WHERE x.parent_run_id = r.id AND x.trigger = 'resume') ORDER BY r.id", (since,))
    return [run_from_row(r) for r in rows]


def add_note(catalog: Catalog, run_id: int, text: str) -> None:
    """Append to a run's note (its history: what became of it)."""
    with catalog._tx() as db:
        db.execute("UPDATE runs SET note = CASE WHEN COALESCE(note, '') = '' THEN ? ELSE note || '; ' || ? END "
                   "WHERE id = ?", (text, text, run_id))
