"""``labdeck schedule add|list|remove|pause|resume``: a job's schedules and pausing them."""

from __future__ import annotations

from ..core.schedules import CatchUp, Schedule, ScheduleKind, parse_at, parse_duration, parse_tz, preview
from ..store.schedules import ScheduleStore
from . import schedule_import
from .argtypes import SCHEDULE_ID, whole_number
from .common import open_catalog, print_json, print_table


def register(sub) -> None:
    sched = sub.add_parser("schedule", help="run jobs on a schedule").add_subparsers(dest="schedule_command",
                                                                                      metavar="ACTION")
    sched.required = True
    add = sched.add_parser("add", help="add a schedule to a job (a job may have several)")
    add.add_argument("job")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help="five fields: minute hour day month weekday, e.g. '30 2 * * 1-5'")
    when.add_argument("--every", metavar="DURATION", help="an interval: 30s, 5m, 1h30m, 2d")
    when.add_argument("--at", metavar="TIME", help="once, at 'YYYY-MM-DD HH:MM' (in --tz unless it has an offset)")
    add.add_argument("--tz", default="UTC", metavar="ZONE", help="IANA time zone, e.g. Europe/Berlin (default UTC)")
    add.add_argument("--catch-up", choices=[c.value for c in CatchUp], default="skip",
                     help="after fires were missed: skip (record and notify only) or once (also run once at start)")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.add_argument("--after", dest="after_job", metavar="JOB", default="",
                     help="a fire while JOB has a run going on waits for that run to end")
    add.add_argument("--after-ok", action="store_true",
                     help="with --after: start only if that run (or JOB's last run) succeeded")
    add.set_defaults(handler=cmd_add)

    lst = sched.add_parser("list", help="schedules with their next fire times")
    lst.add_argument("--job")
    lst.add_argument("--next", type=whole_number(0, 1000), default=3, metavar="N",
                     help="fire times to preview (default 3)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_list)

    schedule_import.register(sched)

    rm = sched.add_parser("remove", help="remove a schedule")
    rm.add_argument("id", type=SCHEDULE_ID)
    rm.set_defaults(handler=cmd_remove)

    for name, helptext in (("pause", "switch one schedule off, or with no ID pause all scheduling"),
                           ("resume", "switch one schedule on again, or with no ID resume all scheduling")):
        p = sched.add_parser(name, help=helptext)
        p.add_argument("id", type=SCHEDULE_ID, nargs="?")
        p.set_defaults(handler=cmd_pause_resume, enable=name == "resume")


# ---- schedules -----------------------------------------------------------------------------

def cmd_add(args) -> int:
    parse_tz(args.tz)
    if args.cron is not None:  # "" is a mistake to report, not "no --cron"
        schedule = Schedule(args.job, ScheduleKind.CRON, " ".join(args.cron.split()), args.tz)
    elif args.every is not None:
        schedule = Schedule(args.job, ScheduleKind.INTERVAL, repr(parse_duration(args.every)), args.tz)
    else:
        schedule = Schedule(args.job, ScheduleKind.DATE, parse_at(args.at, args.tz).isoformat(), args.tz)
    schedule.enabled = not args.disabled
    schedule.catch_up = CatchUp(args.catch_up)
    schedule.after_job, schedule.after_ok = args.after_job, args.after_ok
    with open_catalog(args) as catalog:
        ScheduleStore(catalog).add(schedule)
        upcoming = preview(schedule, 1)
    nxt = (f"; next fire {upcoming[0].at:%Y-%m-%d %H:%M:%S %Z}" if upcoming
           else "; it will not fire (its time has passed)")
    print(f"added schedule {schedule.id} to job '{schedule.job_name}': {schedule.describe()}{nxt}")
    return 0


def cmd_list(args) -> int:
    with open_catalog(args) as catalog:
        store = ScheduleStore(catalog)
        schedules, paused = store.list(args.job), store.paused()
    items = []
    for s in schedules:
        fires = preview(s, args.next) if s.enabled and not paused else []
        items.append((s, fires))
    if args.json:
        print_json({"paused": paused, "schedules": [{
            "id": s.id, "job": s.job_name, "kind": s.kind, "expr": s.expr, "tz": s.tz, "enabled": s.enabled,
            "after": s.after_job, "after_ok": s.after_ok,
            "catch_up": s.catch_up, "last_checked": s.last_checked,
            "next": [{"at": f.at.isoformat(), "flag": f.flag, "note": f.note} for f in fires]} for s, fires in items]})
        return 0
    if paused:
        print("all scheduling is PAUSED (labdeck schedule resume)")
    rows = []
    for s, fires in items:
        state = "paused" if paused else "on" if s.enabled else "off"
        shown = "; ".join(f"{f.at:%Y-%m-%d %H:%M %Z}" + (f" [{f.flag}: {f.note}]" if f.flag else "") for f in fires)
        rows.append([s.id, s.job_name, s.describe(), s.catch_up, state, shown or "-"])
    print_table(["ID", "JOB", "SCHEDULE", "CATCH-UP", "STATE", "NEXT"], rows)
    return 0


def cmd_remove(args) -> int:
    with open_catalog(args) as catalog:
        ScheduleStore(catalog).remove(args.id)
    print(f"removed schedule {args.id}")
    return 0


def cmd_pause_resume(args) -> int:
    with open_catalog(args) as catalog:
        store = ScheduleStore(catalog)
        if args.id is None:
            store.set_paused(not args.enable)
            print("all scheduling " + ("resumed" if args.enable else "paused"))
        else:
            store.set_enabled(args.id, args.enable)
            print(f"schedule {args.id} " + ("enabled" if args.enable else "disabled"))
    return 0


# ---- job policies --------------------------------------------------------------------------
