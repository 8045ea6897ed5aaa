"""``labdeck schedule import FILE --from taskscheduler --targets SPEC``: a Windows Task
Scheduler task exported as XML becomes a job (its programs as cmd command steps on the chosen
Windows nodes) with its time triggers as schedules, and a report of what did not convert."""

from __future__ import annotations

from ..core.errors import InvalidInput
from ..core.models import Transport
from ..core.targets import resolve_targets
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
    from ..importers.taskscheduler import parse_task
    from ..store.job_import import import_jobs
    from ..store.jobfile import check_job

    conversion = parse_task(args.file, args.targets, args.tz, args.name, args.project)
    with open_catalog(args) as catalog:  # an edit of the catalog: no engine
        nodes = resolve_targets(args.targets, catalog.list_nodes())
        not_windows = [n.name for n in nodes if n.transport is not Transport.WINRM]
        if not_windows:
            are = "is not a" if len(not_windows) == 1 else "are not"
            raise InvalidInput(f"--targets: {', '.join(not_windows)} {are} "
                               "Windows (WinRM) node(s); a Task Scheduler task runs its programs through cmd")
        powershell = [n.name for n in nodes if n.winrm.shell != "cmd"]
        if powershell:
            raise InvalidInput(f"--targets: {', '.join(powershell)} run command steps in PowerShell; the task's "
                               "command lines are cmd's (labdeck node add ... --shell cmd)")
        check_job(conversion.job, f"job '{conversion.name}'")
        report([conversion])
        if args.dry_run:
            print("dry run: nothing was changed")
            return 0
        import_jobs(catalog, [conversion.job], conversion.schedules, replace=args.replace)
    print(f"imported job '{conversion.name}' with {len(conversion.schedules)} schedules")
    return 0
