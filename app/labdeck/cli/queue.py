"""``labdeck queue`` (the line of waiting runs and why each waits), ``labdeck queue move``,
``labdeck tasks RUN`` (a workflow's steps or an array's items), ``labdeck rerun RUN``, and how
``labdeck run`` follows a planned run."""

from __future__ import annotations

import sys
import time

from ..core.errors import InvalidInput
from ..core.job_plan import MAX_PRIORITY
from ..core.status import RunStatus
from ..engine.api import EngineApi
from ..store import run_queue, run_waits
from .argtypes import RUN_ID, whole_number
from .common import open_catalog, open_engine, print_json, print_table, wait_or_cancel

EXIT_RUN_FAILED = 1


def register(sub) -> None:
    queue = sub.add_parser("queue", help="the run queue: waiting runs in order, and why each waits")
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(handler=cmd_queue)
    actions = queue.add_subparsers(dest="queue_command", metavar="ACTION")
    move = actions.add_parser("move", help="give a queued run another priority, or move it up or down one place")
    move.add_argument("run_id", type=RUN_ID)
    how = move.add_mutually_exclusive_group(required=True)
    how.add_argument("--priority", type=whole_number(-MAX_PRIORITY, MAX_PRIORITY), help="higher runs first")
    how.add_argument("--up", action="store_true", help="one place earlier")
    how.add_argument("--down", action="store_true", help="one place later")
    move.set_defaults(handler=cmd_move)

    rerun = sub.add_parser("rerun", help="run again what failed: a run's failed nodes, an array's failed items, "
                                         "or a workflow from the start; waits like run")
    rerun.add_argument("run_id", type=RUN_ID)
    rerun.add_argument("--json", action="store_true")
    rerun.set_defaults(handler=cmd_rerun)

    tasks = sub.add_parser("tasks", help="the steps of a workflow run or the items of an array run")
    tasks.add_argument("run_id", type=RUN_ID)
    tasks.add_argument("--json", action="store_true")
    tasks.set_defaults(handler=cmd_tasks)


def cmd_queue(args) -> int:
    with open_catalog(args) as catalog:
        line = run_queue.entries(catalog)
        for entry in line:
            entry["progress"] = run_queue.describe_progress(run_queue.progress(catalog, entry["run_id"]))
        waits = run_waits.waiting(catalog)  # runs that start when another run ends (run --after)
    if args.json:
        print_json([{k: e[k] for k in ("position", "run_id", "job_name", "status", "priority", "progress", "reason",
                                       "queued_at")} for e in line] +
                   [{"wait_id": w.id, "job_name": w.job_name, "status": "waiting", "after_run_id": w.after_run_id,
                     "after_ok": w.require_ok, "reason": w.reason, "queued_at": w.created_at} for w in waits])
        return 0
    if not line and not waits:
        print("the queue is empty")
        return 0
    print_table(["POS", "RUN", "JOB", "PRIORITY", "STATUS", "PROGRESS", "WAITING FOR"],
                [[e["position"], e["run_id"], e["job_name"], e["priority"], e["status"], e["progress"],
                  e["reason"] or "-"] for e in line] +
                [["-", "-", w.job_name, "-", "waiting", "-", w.reason] for w in waits])
    return 0


def cmd_move(args) -> int:
    with open_catalog(args) as catalog:
        run = catalog.get_run(args.run_id)
        if run.status.is_final:
            raise InvalidInput(f"run {run.id} has already ended ({run.status}); only waiting runs can move")
        if args.priority is not None:
            run_queue.set_priority(catalog, run.id, args.priority)
        else:
            run_queue.move(catalog, run.id, "up" if args.up else "down")
        entry = next(e for e in run_queue.entries(catalog) if e["run_id"] == run.id)
    print(f"run {run.id} is now number {entry['position']} in the queue (priority {entry['priority']})")
    return 0


def cmd_rerun(args) -> int:
    from .runs import wait_and_report

    with open_engine(args) as engine:
        run = engine.rerun_failed(args.run_id)
        return wait_and_report(engine, run.id, args.json)


def cmd_tasks(args) -> int:
    with open_catalog(args) as catalog:
        run = catalog.get_run(args.run_id)
        tasks = run_queue.task_runs(catalog, run.id)
        progress = run_queue.progress(catalog, run.id)
    rows = [{"task": r.task, "task_run": r.id, "node": nr["node_name"], "status": nr["status"] or str(r.status),
             "attempt": nr["attempt"], "exit_code": nr["exit_code"], "duration_s": _duration(nr),
             "item": r.note[5:] if r.note.startswith("item ") else None,
             "message": nr["message"] or "", "log": nr["log_path"]} for r, nr in tasks]
    if args.json:
        print_json({"run_id": run.id, "job": run.job_name, "status": run.status, "progress": progress, "tasks": rows})
        return 0
    print(f"run {run.id} ({run.job_name}) {run.status}: {run_queue.describe_progress(progress)}")
    print_table(["TASK", "ITEM", "NODE", "STATUS", "ATTEMPT", "EXIT", "DURATION", "MESSAGE"],
                [[t["task"], t["item"], t["node"], t["status"], t["attempt"], t["exit_code"],
                  f"{t['duration_s']:.1f}s" if t["duration_s"] is not None else None, t["message"]] for t in rows])
    return 0


def _duration(nr: dict) -> float | None:
    if not nr["started_at"]:
        return None
    return round((nr["finished_at"] or time.time()) - nr["started_at"], 3)


def wait_planned(engine: EngineApi, run_id: int, as_json: bool) -> int:
    """Follow a planned run to its end: steps as they change, array progress at most once a second."""
    last_shown = [0.0]
    followed = {run_id}
    if not as_json:
        entry = next((e for e in run_queue.entries(engine.catalog) if e["run_id"] == run_id), None)
        where = f" (number {entry['position']} in the queue)" if entry and entry["position"] > 1 else ""
        print(f"run {run_id} queued{where}", file=sys.stderr)

        from ..core.events import PlanProgress, StepChanged

        def show(event) -> None:
            if isinstance(event, StepChanged) and event.run_id in followed and event.state != "waiting":
                detail = f": {event.message}" if event.message else ""
                print(f"  step {event.step}: {event.state}{detail}", file=sys.stderr)
            elif isinstance(event, PlanProgress) and event.run_id in followed:
                now = time.monotonic()
                if now - last_shown[0] >= 1.0 or event.done + event.failed == event.total:
                    last_shown[0] = now
                    text = f"{event.done} / {event.total} done" + (f", {event.failed} failed" if event.failed else "")
                    print(f"  {text}", file=sys.stderr)

        engine.bus.subscribe(show)
    run_id = wait_or_cancel(engine, run_id, followed)
    run = engine.catalog.get_run(run_id)
    progress = run_queue.progress(engine.catalog, run_id)
    if as_json:
        print_json({"run_id": run.id, "job": run.job_name, "status": run.status, "note": run.note,
                    "progress": progress, "tasks": [
                        {"task": r.task, "node": nr["node_name"], "status": nr["status"], "exit_code": nr["exit_code"],
                         "attempt": nr["attempt"], "log": nr["log_path"]}
                        for r, nr in run_queue.task_runs(engine.catalog, run_id)]})
    else:
        note = f" ({run.note})" if run.note else ""
        print(f"run {run.id} {run.status}{note} (details: labdeck tasks {run.id})", file=sys.stderr)
    return 0 if run.status == RunStatus.SUCCEEDED else EXIT_RUN_FAILED
