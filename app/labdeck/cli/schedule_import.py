"""``labdeck schedule import FILE --from taskscheduler --targets SPEC``: a Windows Task
Scheduler task exported as XML becomes a job (its programs as cmd command steps on the chosen
Windows nodes) with its time triggers as schedules, and a report of what did not convert."""

from __future__ import annotations

from .common import open_catalog
from .job_import import report


def register(sched_sub) -> None:
    imp = sched_sub.add_parser("import", help="a Windows Task Scheduler task (schtasks /query /xml) as a job "
                                              "with its schedules")
    imp.add_argument("file")
    imp.add_argument("--from", dest="source_format", choices=["taskscheduler"], required=True,
                     help="the file's format: taskscheduler (the XML of schtasks /query /xml /tn TASK)")
    imp.add_argument("--targets", required=True, help="the Windows nodes the task runs on (names, tag:NAME)")
    imp.add_argument("--tz", default="UTC", metavar="ZONE",
                     help="the PC's time zone, for start times without an offset (default UTC), e.g. Europe/Berlin")
    imp.add_argument("--name", help="the job's name (default: the task's name)")
    imp.add_argument("--project", help="the job's project (default: default)")
    imp.add_argument("--replace", action="store_true", help="replace a job of the same name (and its schedules)")
    imp.add_argument("--dry-run", action="store_true", help="show the report; import nothing")
    imp.set_defaults(handler=cmd_import)


def cmd_import(args) -> int:
    # the importer and the job schema (PyYAML, pydantic): loaded by this command, not by every one
    from ..engine.job_import import commit, windows_targets
    from ..importers.taskscheduler import parse_task
    from ..store.jobfile import check_job

    conversion = parse_task(args.file, args.targets, args.tz, args.name, args.project)
    with open_catalog(args) as catalog:  # an edit of the catalog: no engine
        windows_targets(catalog, args.targets)
        check_job(conversion.job, f"job '{conversion.name}'")
        report([conversion])
        if args.dry_run:
            print("dry run: nothing was changed")
            return 0
        commit(catalog, [conversion], replace=args.replace)
    print(f"imported job '{conversion.name}' with {len(conversion.schedules)} schedules")
    return 0
