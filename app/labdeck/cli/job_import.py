"""``labdeck job import FILE --from rundeck``: Rundeck job exports (YAML or XML) to LabDeck
jobs and schedules, with a report per job of what was converted and what was not. All the
jobs of the file are imported in one transaction, or none (``--partial`` imports those that
convert and leaves the others out)."""

from __future__ import annotations

from ..core.errors import InvalidInput, LabDeckError
from ..core.job_refs import check_references, referenced
from ..core.schedules import parse_tz
from ..core.targets import resolve_targets
from .common import open_catalog


def add_arguments(imp) -> None:
    imp.add_argument("--from", dest="source_format", choices=["labdeck", "rundeck"], default="labdeck",
                     help="the file's format: a LabDeck job (default) or a Rundeck job export (YAML or XML)")
    imp.add_argument("--project", help="put every imported job in this project (default: its Rundeck group)")
    imp.add_argument("--targets", help="run every imported job here, instead of converting Rundeck's node filters")
    imp.add_argument("--tz", default="UTC", metavar="ZONE",
                     help="time zone of Rundeck schedules whose job names none (default UTC)")
    imp.add_argument("--dry-run", action="store_true", help="show the report; import nothing")
    imp.add_argument("--partial", action="store_true", help="import the jobs that convert even if others do not")


def cmd_import_rundeck(args) -> int:
    # the importer and the job schema (PyYAML, pydantic): loaded by this command, not by every one
    from ..importers.rundeck import Overrides, parse_rundeck
    from ..store.job_import import import_jobs
    from ..store.jobfile import check_job

    parse_tz(args.tz)
    conversions = parse_rundeck(args.file, Overrides(project=args.project, targets=args.targets, tz=args.tz))
    with open_catalog(args) as catalog:  # an edit of the catalog: no engine
        nodes = catalog.list_nodes()
        for conversion in conversions:
            if conversion.job is not None:
                try:
                    check_job(conversion.job, f"job '{conversion.name}'")  # the rules a LabDeck job file obeys
                    resolve_targets(conversion.job.targets, nodes, allow_empty=True)
                except LabDeckError as exc:
                    conversion.job = None
                    hint = " (import with --targets SPEC)" if "node" in str(exc) else ""
                    conversion.not_converted.append(f"not imported: {exc}{hint}")
        _check_references(conversions, catalog.list_jobs())
        report(conversions)
        ready = [c for c in conversions if c.job is not None]
        left_out = [c.name for c in conversions if c.job is None]
        if args.dry_run:
            print(f"dry run: {len(ready)} of {len(conversions)} jobs would be imported; nothing was changed")
            return 0
        if left_out and not args.partial:
            raise InvalidInput(f"nothing was imported: {len(left_out)} of {len(conversions)} jobs cannot be "
                               f"({', '.join(left_out)}); see above, or import with --partial to leave them out")
        if not ready:
            raise InvalidInput("nothing was imported: no job in the file converts")
        import_jobs(catalog, [c.job for c in ready], [s for c in ready for s in c.schedules],
                    replace=args.replace)
    print(f"imported {len(ready)} jobs" + (f" ({sum(len(c.schedules) for c in ready)} schedules)") +
          (f"; left out: {', '.join(left_out)}" if left_out else ""))
    return 0


def _check_references(conversions, existing) -> None:
    """A job step must name a job of the catalog or of the file, without a loop; a job that
    fails that is left out (and then so is any job that runs it)."""
    while True:
        every = {j.name: j for j in existing} | {c.name: c.job for c in conversions if c.job is not None}
        failing = []
        for conversion in conversions:
            if conversion.job is not None and referenced(conversion.job):
                try:
                    check_references(conversion.job, every)
                except LabDeckError as exc:
                    failing.append((conversion, exc))
        if not failing:
            return
        for conversion, exc in failing:
            conversion.job = None
            conversion.not_converted.append(f"not imported: {exc}")


def report(conversions) -> None:
    for c in conversions:
        state = f"project {c.job.project}" if c.job is not None else "NOT IMPORTED"
        print(f"job '{c.name}' ({c.source}): {state}")
        for line in c.converted:
            print(f"  converted: {line}")
        for line in c.not_converted:
            print(f"  NOT converted: {line}")
