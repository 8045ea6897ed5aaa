"""``labdeck job add|list|show|remove|export|import``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.models import DEFAULT_PROJECT, Job, JobOption, JobPolicy, Step, StepKind, check_project_name
from ..core.quoting import check_option_name
from . import job_import
from .common import open_catalog, parse_pairs, print_json, print_table
from .policy import POLICY_FLAGS, add_policy_arguments, apply_policy_arguments

# the job file's field paths as the flags of ``job add`` that set them, for error messages
JOB_ADD_FLAGS = POLICY_FLAGS | {"policy.timeout_s": "--timeout", "policy.retries": "--retries",
                                "policy.retry_delay_s": "--retry-delay", "policy.max_parallel": "--max-parallel",
                                "description": "--description", "targets": "--targets", "name": "the job name",
                                "steps.command": "--command", "steps.script": "--script",
                                "options.name": "--option", "options.default": "--option"}


def register(sub) -> None:
    job = sub.add_parser("job", help="manage job definitions").add_subparsers(dest="job_command", metavar="ACTION")
    job.required = True

    add = job.add_parser("add", help="define a job")
    add.add_argument("name")
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--command", help="shell command run on each target")
    what.add_argument("--script", metavar="FILE",
                      help="script file; its body is kept in the catalog and uploaded to each node")
    add.add_argument("--targets", required=True,
                     help="node names, tag:NAME, all; comma-separated, !X to exclude, A&B to intersect")
    add.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit of each node run")
    add.add_argument("--retries", type=int, default=0,
                     help="extra attempts after a failed, timed-out or unreachable node run")
    add.add_argument("--retry-delay", type=float, default=0.0, metavar="SECONDS")
    add.add_argument("--max-parallel", type=int, default=0, help="nodes at once (0 = all)")
    add.add_argument("--option", action="append", metavar="K=DEFAULT", help="an option with its default (repeatable)")
    add.add_argument("--description", default="")
    add.add_argument("--project", default=DEFAULT_PROJECT, help="the project the job belongs to (default: default)")
    add_policy_arguments(add)
    add.set_defaults(handler=cmd_add)

    lst = job.add_parser("list", help="list jobs")
    lst.add_argument("--project", help="only the jobs of this project")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)

    for name, handler, helptext in (("show", cmd_show, "show a job as YAML"),
                                    ("export", cmd_show, "print a job as YAML (to import elsewhere)"),
                                    ("remove", cmd_remove, "remove a job (its run history stays)")):
        p = job.add_parser(name, help=helptext)
        p.add_argument("name")
        p.set_defaults(handler=handler)

    imp = job.add_parser("import", help="add a job from a YAML file (- for stdin), or Rundeck jobs (--from rundeck)")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="replace a job of the same name")
    job_import.add_arguments(imp)
    imp.set_defaults(handler=cmd_import)


def cmd_add(args) -> int:
    if args.script:
        path = Path(args.script)
        try:
            body = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read script {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"script {path} is not UTF-8 text") from exc
        step = Step(kind=StepKind.SCRIPT, script=body, filename=path.name)
    else:
        step = Step(command=args.command)
    options = [JobOption(name=check_option_name(k), default=v) for k, v in parse_pairs(args.option, "--option").items()]
    job = Job(name=args.name, steps=[step], targets=args.targets, options=options, description=args.description,
              project=check_project_name(args.project),
              policy=apply_policy_arguments(JobPolicy(timeout_s=args.timeout, retries=args.retries,
                                                      retry_delay_s=args.retry_delay, max_parallel=args.max_parallel),
                                                      args))
    from ..store.jobfile import check_job  # pydantic: only for the commands that check a job
    check_job(job, flag_names=JOB_ADD_FLAGS)
    with open_catalog(args) as catalog:
        _check_targets(catalog, job)
        catalog.add_job(job)
    print(f"added job '{job.name}'")
    return 0


def _check_targets(catalog, job: Job) -> None:
    from ..core.targets import resolve_targets
    resolve_targets(job.targets, catalog.list_nodes(), allow_empty=True)


def cmd_list(args) -> int:
    with open_catalog(args) as catalog:
        jobs = catalog.list_jobs(args.project)
    if args.json:
        print_json([{"name": j.name, "project": j.project, "targets": j.targets,
                     "steps": len(j.steps) or len(j.plan.workflow),
                     "description": j.description,
                     "options": {o.name: o.default for o in j.options}, "timeout_s": j.policy.timeout_s} for j in jobs])
        return 0
    print_table(["NAME", "PROJECT", "TARGETS", "STEPS", "TIMEOUT", "DESCRIPTION"],
                [[j.name, j.project, j.targets, len(j.steps) or len(j.plan.workflow),
                  f"{j.policy.timeout_s:g}s" if j.policy.timeout_s else "-",
                  j.description] for j in jobs])
    return 0


def cmd_show(args) -> int:
    with open_catalog(args) as catalog:
        from ..store.jobfile import job_to_yaml  # PyYAML: only for the commands that need it
        sys.stdout.write(job_to_yaml(catalog.get_job(args.name)))
    return 0


def cmd_remove(args) -> int:
    with open_catalog(args) as catalog:
        catalog.remove_job(args.name)
    print(f"removed job '{args.name}'")
    return 0


def cmd_import(args) -> int:
    if args.source_format == "rundeck":
        return job_import.cmd_import_rundeck(args)
    if args.targets or args.tz != "UTC" or args.dry_run or args.partial:
        raise InvalidInput("--targets, --tz, --dry-run and --partial are for --from rundeck")
    from ..store.safe_yaml import MAX_DOCUMENT_CHARS  # PyYAML: only for the commands that read YAML
    try:  # one character past the limit is enough for load_yaml to refuse a huge file
        if args.file == "-":
            text = sys.stdin.read(MAX_DOCUMENT_CHARS + 1)
        else:
            with open(args.file, encoding="utf-8") as stream:
                text = stream.read(MAX_DOCUMENT_CHARS + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {args.file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{args.file} is not UTF-8 text (byte {exc.start})") from exc
    folder = None if args.file == "-" else str(Path(args.file).resolve().parent)  # where a relative over_file is
    from ..store.jobfile import job_from_yaml
    job = job_from_yaml(text, source="standard input" if args.file == "-" else args.file, base_dir=folder)
    if args.project:
        job.project = check_project_name(args.project)
    with open_catalog(args) as catalog:
        _check_targets(catalog, job)
        catalog.add_job(job, replace=args.replace)
    print(f"imported job '{job.name}'")
    return 0
