"""``labdeck job import FILE --from rundeck``: Rundeck job exports (YAML or XML) to LabDeck
jobs and schedules, with a report per job of what was converted and what was not. All the
jobs of the file are imported in one transaction, or none (``--partial`` imports those that
convert and leaves the others out)."""

from __future__ import annotations

from ..core.errors import InvalidInput
from ..core.schedules import parse_tz
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
    from ..engine.job_import import check_conversions, commit
    from ..importers.rundeck import Overrides, parse_rundeck

    parse_tz(args.tz)
    conversions = parse_rundeck(args.file, Overrides(project=args.project, targets=args.targets, tz=args.tz))
    with open_catalog(args) as catalog:  # an edit of the catalog: no engine
        check_conversions(catalog, conversions, targets_hint="import with --targets SPEC")
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
        commit(catalog, ready, replace=args.replace)
    print(f"imported {len(ready)} jobs" + (f" ({sum(len(c.schedules) for c in ready)} schedules)") +
          (f"; left out: {', '.join(left_out)}" if left_out else ""))
    return 0


def report(conversions) -> None:
    for c in conversions:
        state = f"project {c.job.project}" if c.job is not None else "NOT IMPORTED"
        print(f"job '{c.name}' ({c.source}): {state}")
        for line in c.converted:
            print(f"  converted: {line}")
        for line in c.not_converted:
            print(f"  NOT converted: {line}")
