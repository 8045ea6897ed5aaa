"""A Windows Task Scheduler task (``schtasks /query /xml /tn NAME``: UTF-16 with a BOM) to a
LabDeck job and its schedules, with a report of what was converted and what was not.

Each ``Exec`` action becomes a command step run by cmd (``cd /d`` into its working folder
first); the job runs on the Windows targets the user chooses. Time triggers map when the
mapping is exact: daily (every day), weekly (every week, on the days set), monthly on given
days, a one-off time, and a repetition interval that divides an hour or a day. A start time
without an offset is local to the PC (the time zone given); one with an offset ("synchronize
across time zones") keeps that fixed offset. Logon, boot, idle and event triggers, idle and
power conditions, other action kinds and the run-as account are reported, not guessed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.models import DEFAULT_PROJECT, Job, JobPolicy, Step, StepKind, check_project_name
from ..core.schedules import CatchUp, Schedule, ScheduleKind, parse_cron, parse_tz
from .candidates import at, read_text
from .rundeck_convert import JobConversion
from .xml_tree import Element, parse_xml

_DAYS = {"Sunday": "sun", "Monday": "mon", "Tuesday": "tue", "Wednesday": "wed", "Thursday": "thu",
         "Friday": "fri", "Saturday": "sat"}
_MONTHS = {name: index for index, name in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}
_OVERLAP = {"IgnoreNew": "skip", "Queue": "queue", "Parallel": "parallel"}
_EVENT_TRIGGERS = {"LogonTrigger": "at log on", "BootTrigger": "at startup", "IdleTrigger": "on idle",
                   "EventTrigger": "on an event", "RegistrationTrigger": "when the task is created",
                   "SessionStateChangeTrigger": "on a session change (lock, unlock, connect)"}


def parse_task(path: str | Path, targets: str, tz: str = "UTC", name: str | None = None,
               project: str | None = None) -> JobConversion:
    path = Path(path).expanduser()
    if not path.is_file():
        raise at(path, None, "no such file")
    parse_tz(tz)
    root = parse_xml(path, read_text(path))
    if root.tag != "Task":
        raise at(path, root.line, f"<{root.tag}> is not a Task Scheduler task (schtasks /query /xml starts with <Task>)")
    registration = root.find("RegistrationInfo")
    uri = registration.value("URI") if registration is not None else None
    job_name = name or _name_from_uri(uri) or path.stem
    result = JobConversion(f"{path}:{root.line}", job_name)
    steps = _actions(root.find("Actions"), result, path)
    if not steps:
        raise at(path, root.line, "the task has no Exec action (a program to start): nothing to import")
    policy = _settings(root.find("Settings"), result)
    _principal(root.find("Principals"), result)
    description = (registration.value("Description") if registration is not None else None) or ""
    result.job = Job(name=job_name, steps=steps, targets=targets, policy=policy, description=description,
                     project=check_project_name(project or DEFAULT_PROJECT))
    catch_up = CatchUp.ONCE if _setting(root.find("Settings"), "StartWhenAvailable") == "true" else CatchUp.SKIP
    result.schedules = _triggers(root.find("Triggers"), result, job_name, tz, catch_up)
    if catch_up is CatchUp.ONCE and result.schedules:
        result.converted.append("run as soon as possible after a missed start -> catch-up once")
    if _setting(root.find("Settings"), "Enabled") == "false":
        for schedule in result.schedules:
            schedule.enabled = False
        result.converted.append("the task is disabled: its schedules are imported turned off")
    return result


def _name_from_uri(uri: str | None) -> str | None:
    if not uri:
        return None
    last = uri.strip().rstrip("\\").rsplit("\\", 1)[-1]
    return re.sub(r"[^\w.-]+", "-", last).strip("-") or None


# ---- actions ---------------------------------------------------------------------------------

def _actions(actions: Element | None, result: JobConversion, path: Path) -> list[Step]:
    steps = []
    for number, action in enumerate(actions.children if actions is not None else [], start=1):
        if action.tag != "Exec":
            result.not_converted.append(f"action {number}: {action.tag} (only programs to start convert)")
            continue
        command = action.value("Command")
        if not command:
            raise at(path, action.line, f"action {number} has no <Command>")
        line = _quote_program(command.strip())
        if action.value("Arguments"):
            line += " " + action.value("Arguments")
        folder = action.value("WorkingDirectory")
        if folder:
            line = f'cd /d "{folder.strip(chr(34))}" && {line}'
        steps.append(Step(kind=StepKind.COMMAND, command=line, name=Path(command.replace("\\", "/")).name))
        result.converted.append(f"action {number}: {line}")
    return steps


def _quote_program(command: str) -> str:
    if command.startswith('"') or " " not in command:
        return command
    return f'"{command}"'


# ---- settings and principal --------------------------------------------------------------------

def _setting(settings: Element | None, tag: str) -> str | None:
    return settings.value(tag) if settings is not None else None


def _settings(settings: Element | None, result: JobConversion) -> JobPolicy:
    policy = JobPolicy()
    if settings is None:
        return policy
    limit = settings.value("ExecutionTimeLimit")
    if limit and limit != "PT0S":
        policy.timeout_s = _duration(limit)
        result.converted.append(f"stop the task if it runs longer than {limit} -> timeout {policy.timeout_s:g} s")
    instances = settings.value("MultipleInstancesPolicy")
    if instances in _OVERLAP:
        policy.overlap = _OVERLAP[instances]
        result.converted.append(f"if the task is already running: {instances} -> overlap {policy.overlap}")
    elif instances:
        result.not_converted.append(f"if the task is already running: {instances} (LabDeck skips, queues or runs "
                                    "in parallel; it was left at skip)")
    restart = settings.find("RestartOnFailure")
    if restart is not None:
        policy.retries = int(restart.value("Count") or 0)
        policy.retry_delay_s = _duration(restart.value("Interval") or "PT0S")
        result.converted.append(f"restart on failure {policy.retries} times every {restart.value('Interval')}")
    for tag, meaning in (("RunOnlyIfIdle", "start only if the computer is idle"),
                         ("DisallowStartIfOnBatteries", "do not start on battery power"),
                         ("StopIfGoingOnBatteries", "stop when the computer switches to battery"),
                         ("RunOnlyIfNetworkAvailable", "start only if a network connection is available"),
                         ("WakeToRun", "wake the computer to run"),
                         ("Hidden", "hidden task")):
        if settings.value(tag) == "true":
            result.not_converted.append(f"condition: {meaning}")
    idle = settings.find("IdleSettings")
    if idle is not None and settings.value("RunOnlyIfIdle") == "true":
        result.not_converted.append("idle conditions (wait for idle, stop on idle end)")
    priority = settings.value("Priority")
    if priority and priority != "7":
        result.not_converted.append(f"process priority {priority}")
    if settings.value("DeleteExpiredTaskAfter"):
        result.not_converted.append("delete the task after it expires")
    return policy


def _principal(principals: Element | None, result: JobConversion) -> None:
    principal = principals.find("Principal") if principals is not None else None
    if principal is None:
        return
    user = principal.value("UserId") or principal.value("GroupId")
    if user:
        result.not_converted.append(f"runs as {user} in Task Scheduler; LabDeck runs it as each node's login")
    if principal.value("RunLevel") == "HighestAvailable":
        result.not_converted.append("run with highest privileges (the node's login decides)")


# ---- triggers ----------------------------------------------------------------------------------

def _triggers(triggers: Element | None, result: JobConversion, job: str, tz: str,
              catch_up: CatchUp) -> list[Schedule]:
    schedules = []
    for number, trigger in enumerate(triggers.children if triggers is not None else [], start=1):
        where = f"trigger {number} (line {trigger.line})"
        if trigger.tag in _EVENT_TRIGGERS:
            result.not_converted.append(f"{where}: {_EVENT_TRIGGERS[trigger.tag]} — only time triggers convert")
            continue
        if trigger.tag not in ("CalendarTrigger", "TimeTrigger"):
            result.not_converted.append(f"{where}: {trigger.tag}")
            continue
        try:
            schedule, text = _time_trigger(trigger, job, tz)
        except _NotExact as exc:
            result.not_converted.append(f"{where}: {exc}")
            continue
        schedule.catch_up = catch_up
        schedule.enabled = trigger.value("Enabled") != "false"
        for tag, meaning in (("EndBoundary", "an end date"), ("RandomDelay", "a random delay"),
                             ("ExecutionTimeLimit", "its own time limit")):
            if trigger.value(tag):
                result.not_converted.append(f"{where}: {meaning} ({trigger.value(tag)})")
        result.converted.append(f"{where}: {text} -> {schedule.describe()}" +
                                ("" if schedule.enabled else " (disabled, as it was)"))
        schedules.append(schedule)
    return schedules


class _NotExact(InvalidInput):
    """A trigger (or setting) LabDeck cannot repeat exactly; the message says why."""


def _time_trigger(trigger: Element, job: str, tz: str) -> tuple[Schedule, str]:
    start_text = trigger.value("StartBoundary")
    if not start_text:
        raise _NotExact("it has no start time")
    start, zone = _start(start_text, tz)
    repetition = trigger.find("Repetition")
    every = _duration(repetition.value("Interval")) if repetition is not None and repetition.value("Interval") else None
    lasting = repetition.value("Duration") if repetition is not None else None
    if trigger.tag == "TimeTrigger":
        if every is None:
            if start <= datetime.now(start.tzinfo):
                raise _NotExact(f"it ran once at {start_text}, which has passed")
            return Schedule(job, ScheduleKind.DATE, start.isoformat(), zone), f"once at {start_text}"
        if lasting and _duration(lasting) < 86400 * 3650:
            raise _NotExact(f"it repeats every {repetition.value('Interval')} for {lasting} only")
        schedule = Schedule(job, ScheduleKind.INTERVAL, repr(every), zone)
        schedule.created_at = start.timestamp() - every  # the interval keeps the task's phase: fires at start + n*every
        return schedule, f"from {start_text} every {repetition.value('Interval')}"
    minute, hour = start.minute, start.hour
    if start.second:
        raise _NotExact(f"it starts at second {start.second}; LabDeck schedules fire on the minute")
    day_field, month_field, weekday_field, text = _calendar(trigger)
    minutes, hours = str(minute), str(hour)
    if every is not None:
        if lasting and _duration(lasting) < 86400:
            raise _NotExact(f"it repeats every {repetition.value('Interval')} for {lasting} a day, not all day")
        minutes, hours = _repeat_fields(every, minute, hour, repetition.value("Interval"))
        text += f", repeated every {repetition.value('Interval')}"
    cron = f"{minutes} {hours} {day_field} {month_field} {weekday_field}"
    parse_cron(cron, zone)
    return Schedule(job, ScheduleKind.CRON, cron, zone), text


def _calendar(trigger: Element) -> tuple[str, str, str, str]:
    by_day, by_week = trigger.find("ScheduleByDay"), trigger.find("ScheduleByWeek")
    by_month, by_month_dow = trigger.find("ScheduleByMonth"), trigger.find("ScheduleByMonthDayOfWeek")
    if by_day is not None:
        interval = by_day.value("DaysInterval") or "1"
        if interval != "1":
            raise _NotExact(f"it runs every {interval} days, which no cron schedule repeats exactly across months")
        return "*", "*", "*", "daily"
    if by_week is not None:
        interval = by_week.value("WeeksInterval") or "1"
        if interval != "1":
            raise _NotExact(f"it runs every {interval} weeks; cron repeats weekly")
        days_element = by_week.find("DaysOfWeek")
        days = [_DAYS[d.tag] for d in (days_element.children if days_element is not None else []) if d.tag in _DAYS]
        if not days:
            raise _NotExact("a weekly trigger without days")
        return "*", "*", ",".join(days), f"weekly on {', '.join(days)}"
    if by_month is not None:
        days_element = by_month.find("DaysOfMonth")
        days = [d.text.strip() for d in (days_element.all("Day") if days_element is not None else [])]
        if not days or "Last" in days:
            raise _NotExact("a monthly trigger on the last day" if "Last" in days else "a monthly trigger without days")
        months_element = by_month.find("Months")
        months = [str(_MONTHS[m.tag]) for m in (months_element.children if months_element is not None else [])
                  if m.tag in _MONTHS]
        month_field = "*" if not months or len(months) == 12 else ",".join(months)
        return ",".join(days), month_field, "*", f"monthly on day {', '.join(days)}"
    if by_month_dow is not None:
        raise _NotExact("it runs on the nth weekday of a month (e.g. the second Tuesday), which cron cannot say")
    raise _NotExact("a calendar trigger of an unknown kind")


def _repeat_fields(every: float, minute: int, hour: int, shown: str) -> tuple[str, str]:
    seconds = int(every)
    if seconds != every or seconds % 60:
        raise _NotExact(f"it repeats every {shown}, not a whole number of minutes")
    step = seconds // 60
    if step < 60 and 60 % step == 0:
        return ",".join(str(m) for m in sorted((minute + k * step) % 60 for k in range(60 // step))), "*"
    if step % 60 == 0 and 24 % (step // 60) == 0:
        hours = step // 60
        return str(minute), ",".join(str(h) for h in sorted((hour + k * hours) % 24 for k in range(24 // hours)))
    raise _NotExact(f"it repeats every {shown}, which does not divide an hour or a day")


def _start(text: str, tz: str) -> tuple[datetime, str]:
    """The trigger's start and the IANA zone its times are in: the PC's zone (``tz``) when the
    time has no offset; a fixed Etc/GMT zone when it has one (synchronized across zones)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _NotExact(f"start time '{text}' is not an ISO time") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=parse_tz(tz)), tz
    offset = value.utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest:
        raise _NotExact(f"its start time has the offset {offset}, not whole hours; give the PC's zone with --tz "
                        "and re-export the task without 'synchronize across time zones'")
    zone = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"  # IANA's Etc/GMT signs are inverted: +01:00 is Etc/GMT-1
    return value.astimezone(parse_tz(zone)), zone


_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def _duration(text: str) -> float:
    match = _ISO_DURATION.fullmatch(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise _NotExact(f"'{text}' is not a duration (e.g. PT15M, PT1H, P1D)")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds

