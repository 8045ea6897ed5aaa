"""A job's run rules and notifications as command-line flags: ``labdeck policy JOB`` changes
them, and ``labdeck job add`` takes the same flags."""

from __future__ import annotations

from dataclasses import replace

from ..core.models import NOTIFY_KINDS as KINDS
from ..core.models import JobPolicy
from .common import open_catalog, print_json

POLICY_FLAGS = {"policy.max_runtime_s": "--max-runtime", "policy.max_restarts": "--max-restarts",
                "policy.expected_duration_s": "--expected-duration", "policy.unreachable_wait_s": "--unreachable-wait",
                "policy.notify_on": "--notify-on", "policy.notify_webhooks": "--notify-webhook",
                "policy.notify_emails": "--notify-email"}


def register(sub) -> None:
    pol = sub.add_parser("policy", help="show or change a job's run rules and notifications")
    pol.add_argument("job")
    add_policy_arguments(pol)
    pol.set_defaults(handler=cmd_policy)


def add_policy_arguments(parser) -> None:
    g = parser.add_argument_group("run rules and notifications")
    g.add_argument("--overlap", choices=["skip", "queue", "parallel"],
                   help="a scheduled fire while the job's previous run goes on: "
                        "skip it (default), queue it, or run in parallel")
    g.add_argument("--max-runtime", metavar="DURATION", help="cancel and restart a run that takes longer (e.g. 6h)")
    g.add_argument("--max-restarts", type=int, metavar="N",
                   help="restarts after --max-runtime before reporting failure")
    g.add_argument("--expected-duration", metavar="DURATION", help="notify 'exceeded' when a run takes longer")
    g.add_argument("--launch", choices=["auto", "attached", "detached"],
                   help="detached: the command runs on on the node whatever happens to LabDeck, which re-attaches; "
                        "auto (default): detached when the timeout is over 5 minutes")
    g.add_argument("--retry-on", choices=["same", "other"], help="retry a failed node run on the same or another node")
    g.add_argument("--unreachable", choices=["fail", "wait", "move"],
                   help="an unreachable node: fail (default), wait for it (--unreachable-wait), "
                        "or move to another node")
    g.add_argument("--unreachable-wait", metavar="DURATION", help="how long to wait for an unreachable node")
    g.add_argument("--notify-on", metavar="EVENTS", help=f"comma-separated: {','.join(KINDS)} (default failed,missed)")
    g.add_argument("--notify-webhook", action="append", metavar="URL",
                   help="Slack/Teams/Discord incoming webhook (repeatable)")
    g.add_argument("--notify-email", action="append", metavar="ADDRESS", help="email address (repeatable)")


def apply_policy_arguments(policy: JobPolicy, args) -> JobPolicy:
    changes: dict = {}
    for flag, key in (("overlap", "overlap"), ("retry_on", "retry_on"), ("unreachable", "unreachable"),
                      ("max_restarts", "max_restarts"), ("launch", "launch")):
        if getattr(args, flag, None) is not None:
            changes[key] = getattr(args, flag)
    for flag, key in (("max_runtime", "max_runtime_s"), ("expected_duration", "expected_duration_s"),
                      ("unreachable_wait", "unreachable_wait_s")):
        if getattr(args, flag, None):
            from ..core.schedules import parse_duration
            changes[key] = parse_duration(getattr(args, flag))
    if getattr(args, "notify_on", None) is not None:
        changes["notify_on"] = [k.strip() for k in args.notify_on.split(",") if k.strip()]
    if getattr(args, "notify_webhook", None):
        changes["notify_webhooks"] = list(args.notify_webhook)
    if getattr(args, "notify_email", None):
        changes["notify_emails"] = list(args.notify_email)
    return replace(policy, **changes) if changes else policy


def cmd_policy(args) -> int:
    with open_catalog(args) as catalog:
        job = catalog.get_job(args.job)
        job.policy = apply_policy_arguments(job.policy, args)
        from ..store.jobfile import check_job  # pydantic: only when a policy is changed
        check_job(job, flag_names=POLICY_FLAGS)
        catalog.add_job(job, replace=True)
    print_json({k: v for k, v in vars(job.policy).items()})
    return 0
