"""``labdeck run``, ``exec``, ``runs``, ``logs`` and ``cancel``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.models import Trigger
from ..core.schedules import MAX_DURATION_S
from ..core.status import NodeRunStatus, RunStatus
from ..engine.api import EngineApi
from ..store.detached import DetachedStore
from ..store.logs import read_from
from ..store.run_queue import describe_progress, is_planned, progress
from .argtypes import RUN_ID, seconds, whole_number
from .common import open_catalog, open_engine, print_json, print_table, wait_or_cancel
from .param_files import option_values

EXIT_RUN_FAILED = 1


def register(sub) -> None:
    run = sub.add_parser("run", help="run a job and wait for it; exits 0 only if every node succeeded")
    run.add_argument("job")
    run.add_argument("-p", "--param", action="append", metavar="K=V", help="an option value (repeatable)")
    run.add_argument("--param-file", action="append", metavar="K=PATH",
                     help="an option value read from a UTF-8 file, for values too long for a command line")
    run.add_argument("--targets", help="run on these targets instead of the job's own")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object")
    run.add_argument("--after", type=RUN_ID, metavar="RUN", help="start only when this run has ended "
                                                                 "(labdeck queue shows it waiting)")
    run.add_argument("--after-ok", action="store_true", help="with --after: start only if that run succeeded")
    run.set_defaults(handler=cmd_run)

    ex = sub.add_parser("exec", help="run an ad-hoc command on targets and wait")
    ex.add_argument("--targets", required=True)
    ex.add_argument("--timeout", type=seconds(0, MAX_DURATION_S), metavar="SECONDS")
    ex.add_argument("--json", action="store_true")
    ex.add_argument("command", nargs="+", help="the command (after --)")
    ex.set_defaults(handler=cmd_exec)

    runs = sub.add_parser("runs", help="recent runs")
    runs.add_argument("--job")
    runs.add_argument("--project", help="only runs of this project's jobs")
    runs.add_argument("--status", choices=[s.value for s in RunStatus])
    runs.add_argument("--limit", type=whole_number(1, 1_000_000), default=30,
                      help="at most this many runs (default 30)")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=cmd_runs)

    logs = sub.add_parser("logs", help="print the logs of a run")
    logs.add_argument("run_id", type=RUN_ID)
    logs.add_argument("--node")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing output until the run ends")
    logs.set_defaults(handler=cmd_logs)

    cancel = sub.add_parser("cancel", help="cancel a run, or one node of it")
    cancel.add_argument("run_id", type=RUN_ID)
    cancel.add_argument("--node")
    cancel.set_defaults(handler=cmd_cancel)


def cmd_run(args) -> int:
    if args.after_ok and args.after is None:
        raise InvalidInput("--after-ok goes with --after RUN")
    with open_engine(args) as engine:
        if args.after is not None:
            return _run_after(engine, args)
        run = engine.start_job(args.job, option_values(args.param, args.param_file), Trigger.CLI,
                               targets=args.targets)
        return wait_and_report(engine, run.id, args.json)


def _run_after(engine, args) -> int:
    wait = engine.after.start_after(args.job, option_values(args.param, args.param_file), Trigger.CLI, args.targets,
                                    args.after, args.after_ok)
    print(f"job '{args.job}' is {wait.reason} (labdeck queue shows it; Ctrl-C gives up)", file=sys.stderr)
    try:
        wait = engine.after.wait_started(wait.id)
    except KeyboardInterrupt:
        engine.after.cancel(wait.id)
        print(f"gave up waiting: job '{args.job}' was not started", file=sys.stderr)
        return 130
    if wait.state == "started":
        return wait_and_report(engine, wait.run_id, args.json)
    if args.json:
        print_json({"job": args.job, "status": "skipped", "after": args.after, "note": wait.note})
    else:
        print(f"job '{args.job}' {wait.note}", file=sys.stderr)
    return EXIT_RUN_FAILED


def cmd_exec(args) -> int:
    command = " ".join(args.command)
    with open_engine(args) as engine:
        run = engine.start_command(command, args.targets, args.timeout)
        return wait_and_report(engine, run.id, args.json)


def wait_and_report(engine: EngineApi, run_id: int, as_json: bool) -> int:
    """Follow the run (and its max-runtime restarts) to its end; exit 0 only if the last succeeded."""
    if is_planned(engine.catalog, run_id):  # a workflow, array or queued run
        from .queue import wait_planned
        return wait_planned(engine, run_id, as_json)
    followed = {run_id}
    if not as_json:
        print(f"run {run_id} started", file=sys.stderr)

        from ..core.events import NodeRunFinished, NodeRunStateChanged

        def show(event) -> None:
            if isinstance(event, NodeRunFinished) and event.run_id in followed:
                code = "" if event.exit_code is None else f" (exit {event.exit_code})"
                detail = f": {event.message}" if event.message and event.status != NodeRunStatus.SUCCEEDED else ""
                print(f"  {event.node}: {event.status}{code}{detail}", file=sys.stderr)
            elif isinstance(event, NodeRunStateChanged) and event.run_id in followed:
                print(f"  {event.node}: {event.status}: {event.message}", file=sys.stderr)

        engine.bus.subscribe(show)
    run_id = wait_or_cancel(engine, run_id, followed)
    run = engine.catalog.get_run(run_id)
    node_runs = engine.catalog.node_runs(run_id)
    children = engine.catalog.called_runs(run_id)  # a job whose steps run other jobs
    if as_json:
        report = {"run_id": run.id, "job": run.job_name, "status": run.status, "nodes": [
            {"node": nr.node_name, "status": nr.status, "exit_code": nr.exit_code, "attempt": nr.attempt,
             "duration_s": round(nr.duration_s or 0, 3), "message": nr.message, "kill": nr.kill_state,
             "log": nr.log_path} for nr in node_runs]}
        if children:
            report["note"] = run.note
            report["children"] = [{"run_id": c.id, "job": c.job_name, "status": c.status, "note": c.note,
                                   "nodes": {nr.node_name: nr.log_path for nr in engine.catalog.node_runs(c.id)}}
                                  for c in children]
        print_json(report)
    elif children:
        for child in children:
            print(f"  run {child.id} {child.job_name}: {child.status} ({child.note})", file=sys.stderr)
        print(f"run {run.id} {run.status}: {run.note}", file=sys.stderr)
    else:
        print(f"run {run.id} {run.status}: {sum(nr.status == NodeRunStatus.SUCCEEDED for nr in node_runs)} of "
              f"{len(node_runs)} nodes succeeded (logs: labdeck logs {run.id})", file=sys.stderr)
    return 0 if run.status == RunStatus.SUCCEEDED else EXIT_RUN_FAILED


def cmd_runs(args) -> int:
    with open_catalog(args) as catalog:
        runs = catalog.list_runs(args.job, args.limit, args.status, args.project)
        details = {r.id: catalog.node_runs(r.id) for r in runs}
        store = DetachedStore(catalog)
        detached = {r.id: store.of_run(r.id) for r in runs}
        # a workflow or array run going on has task runs, not node runs: its progress says what they do
        going = {r.id: describe_progress(progress(catalog, r.id)) for r in runs
                 if r.status is RunStatus.RUNNING and not details[r.id] and is_planned(catalog, r.id)}
    if args.json:
        print_json([{"run_id": r.id, "job": r.job_name, "status": r.status, "trigger": r.trigger,
                     "started_at": r.started_at, "finished_at": r.finished_at, "options": r.options,
                     "scheduled_for": r.scheduled_for, "note": r.note,
                     "nodes": {nr.node_name: nr.status for nr in details[r.id]},
                     "detached": {nr.node_name: {"folder": detached[r.id][nr.id].remote_dir,
                                                 "reattached": detached[r.id][nr.id].reattached}
                                  for nr in details[r.id] if nr.id in detached[r.id]}} for r in runs])
        return 0
    print_table(["RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "DURATION", "NODES / NOTE"],
                [[r.id, r.job_name, r.status, r.trigger,
                  time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at)),
                  f"{(r.finished_at or time.time()) - r.started_at:.1f}s",
                  _node_summary(details[r.id], detached[r.id]) or going.get(r.id) or r.note]
                 for r in runs])
    return 0


def _node_summary(node_runs, detached: dict) -> str:
    """e.g. "2 running (detached), 1 node_lost (detached), 3 succeeded (1 re-attached)"."""
    counts: dict[str, list[int]] = {}
    for nr in node_runs:
        count = counts.setdefault(nr.status, [0, 0, 0])
        count[0] += 1
        count[1] += nr.id in detached
        count[2] += nr.id in detached and detached[nr.id].reattached > 0
    parts = []
    for status, (n, n_detached, n_reattached) in sorted(counts.items()):
        marks = [f"{n_reattached} re-attached"] if n_reattached else []
        if n_detached and not status.is_final:
            marks.insert(0, "detached")
        parts.append(f"{n} {status}" + (f" ({', '.join(marks)})" if marks else ""))
    return ", ".join(parts)


def cmd_logs(args) -> int:
    with open_catalog(args) as catalog:
        if args.node is not None and not args.node.strip():
            raise InvalidInput("--node needs a node name")
        run = catalog.get_run(args.run_id)
        node_runs = [nr for nr in catalog.node_runs(run.id) if not args.node or nr.node_name == args.node]
        if args.node and not node_runs:
            from ..core.errors import NotFound
            raise NotFound(f"run {run.id} has no node '{args.node}'")
        if not node_runs and not args.node:  # a workflow or array run: its tasks' logs, one after another
            from ..store.run_queue import task_runs
            for task, nr in task_runs(catalog, run.id):
                print(f"==> task {task.task} on {nr['node_name']} ({nr['status']}) <==")
                _copy_file(Path(nr["log_path"]))
            return 0
        if not args.follow:
            for nr in node_runs:
                if len(node_runs) > 1:
                    print(f"==> {nr.node_name} ({nr.status}) <==")
                _copy_file(Path(nr.log_path))
            return 0
        return _follow(catalog, run.id, node_runs)


def _copy_file(path: Path) -> None:
    offset = 0
    while True:
        text, offset2 = read_from(path, offset)
        if offset2 == offset:
            return
        sys.stdout.write(text)
        offset = offset2
    sys.stdout.flush()


def _follow(catalog, run_id: int, node_runs) -> int:
    offsets = {nr.node_name: 0 for nr in node_runs}
    partial = {nr.node_name: "" for nr in node_runs}
    prefix = len(node_runs) > 1
    while True:
        finished = catalog.get_run(run_id).status.is_final
        for nr in node_runs:
            text, offsets[nr.node_name] = read_from(Path(nr.log_path), offsets[nr.node_name])
            if not text:
                continue
            if not prefix:
                sys.stdout.write(text)
                continue
            lines = (partial[nr.node_name] + text).split("\n")
            partial[nr.node_name] = lines.pop()
            for line in lines:
                sys.stdout.write(f"[{nr.node_name}] {line}\n")
        sys.stdout.flush()
        if finished:
            for name, rest in partial.items():
                if rest:
                    sys.stdout.write(f"[{name}] {rest}\n")
            return 0
        time.sleep(0.2)


def cmd_cancel(args) -> int:
    with open_engine(args) as engine:
        run = engine.catalog.get_run(args.run_id)
        if run.status.is_final:
            print(f"run {run.id} has already ended ({run.status})")
            return 0
        engine.cancel(run.id, args.node)
        target = f"node '{args.node}' of run {run.id}" if args.node else f"run {run.id}"
        print(f"cancel requested for {target}; the process running it kills it within a second")
    return 0
