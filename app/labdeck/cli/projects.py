"""``labdeck project list``: the projects jobs belong to, with their jobs and runs. Nodes are
shared by all projects; a project exists while it has jobs (``default`` always)."""

from __future__ import annotations

import time

from ..store.projects import project_summaries
from .common import open_catalog, print_json, print_table


def register(sub) -> None:
    project = sub.add_parser("project", help="the projects jobs belong to").add_subparsers(
        dest="project_command", metavar="ACTION")
    project.required = True
    lst = project.add_parser("list", help="projects with their number of jobs and runs")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)


def cmd_list(args) -> int:
    with open_catalog(args) as catalog:  # a read: the catalog only, no engine
        projects = project_summaries(catalog)
    if args.json:
        print_json([{"name": p.name, "jobs": p.jobs, "runs": p.runs, "last_run_at": p.last_run_at} for p in projects])
        return 0
    print_table(["PROJECT", "JOBS", "RUNS", "LAST RUN"],
                [[p.name, p.jobs, p.runs,
                  time.strftime("%Y-%m-%d %H:%M", time.localtime(p.last_run_at)) if p.last_run_at else "never"]
                 for p in projects])
    return 0
