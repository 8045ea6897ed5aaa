"""Schedules as values: parsing and validating cron expressions, time zones, intervals and
one-off times, turning them into APScheduler triggers, and previewing the next fire times
with daylight-saving gaps and repeats flagged. No I/O.

Cron is the classic five fields (minute hour day-of-month month day-of-week) with cron's own
day-of-week numbering (0 or 7 = Sunday); it is translated to APScheduler's names, because
APScheduler's own numbering starts at Monday. As in APScheduler, when both day fields are
restricted a day must match both (classic cron matches either).
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import InvalidInput

if TYPE_CHECKING:  # APScheduler is imported where a trigger is built: the CLI's reads never need it
    from apscheduler.triggers.cron import CronTrigger



class ScheduleKind(StrEnum):
    CRON = "cron"
    INTERVAL = "interval"
    DATE = "date"


class CatchUp(StrEnum):
    SKIP = "skip"    # missed fires are recorded and notified, nothing runs
    ONCE = "once"    # missed fires are recorded and notified, and one run starts at once


@dataclass
class Schedule:
    job_name: str
    kind: ScheduleKind
    expr: str                        # cron text, interval seconds, or ISO time of a one-off
    tz: str = "UTC"
    enabled: bool = True
    catch_up: CatchUp = CatchUp.SKIP
    last_checked: float | None = None  # fires up to this time have been handled
    created_at: float | None = None
    id: int | None = None
    after_job: str = ""              # a fire waits for this job's unfinished run to end (engine/after.py)
    after_ok: bool = False           # ...and starts only if that run (or its last one) succeeded

    def describe(self) -> str:
        return self._rule() + (f", after {self.after_job}" + (" succeeds" if self.after_ok else "")
                               if self.after_job else "")

    def _rule(self) -> str:
        if self.kind is ScheduleKind.CRON:
            return f"cron '{self.expr}' {self.tz}"
        if self.kind is ScheduleKind.INTERVAL:
            return f"every {format_duration(float(self.expr))}"
        return f"once at {self.expr}"


# ---- time zones ----------------------------------------------------------------------------

def parse_tz(name: str) -> zoneinfo.ZoneInfo:
    if not name or name.strip() != name:
        raise InvalidInput(f"unknown time zone '{name}': give an IANA name such as Europe/Berlin or UTC")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass  # OSError: "Europe" is a folder of the zone database (IsADirectoryError), not a zone
    known = sorted(zoneinfo.available_timezones())
    lowered = {k.lower(): k for k in known}
    guess = lowered.get(name.lower()) or next(iter(difflib.get_close_matches(name, known, n=1, cutoff=0.6)), None)
    hint = f": did you mean {guess}?" if guess else ": give an IANA name such as Europe/Berlin or UTC"
    raise InvalidInput(f"unknown time zone '{name}'{hint}")


# ---- cron ----------------------------------------------------------------------------------

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]  # cron numbering: 0 = Sunday
# name, low, high, names (index 0 is the value ``low``)
_FIELDS = [("minute", 0, 59, None), ("hour", 0, 23, None), ("day", 1, 31, None),
           ("month", 1, 12, _MONTHS), ("day_of_week", 0, 7, _DAYS)]
_TERM = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


def _value(text: str, name: str, low: int, high: int, names: list[str] | None) -> int:
    if names and text in names:
        return names.index(text) + low
    if not text.isdigit():
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise InvalidInput(f"cron field '{name}' has '{text}': allowed {allowed}")
    value = int(text)
    if not low <= value <= high:
        extra = " (0 or 7 = Sunday)" if name == "day_of_week" else ""
        raise InvalidInput(f"cron field '{name}' has '{text}': allowed {low}-{high}{extra}")
    return value


def _field_values(text: str, name: str, low: int, high: int, names: list[str] | None) -> set[int]:
    values: set[int] = set()
    for term in text.lower().split(","):
        match = _TERM.match(term)
        if not match:
            raise InvalidInput(f"cron field '{name}' has '{term or text}': use *, N, N-M, */S, N-M/S or lists of them")
        base, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise InvalidInput(f"cron field '{name}' has step '{step_text}': a step must be at least 1")
        if base == "*":
            first, last = low, (6 if name == "day_of_week" else high)
        elif "-" in base:
            a, b = base.split("-")
            first, last = _value(a, name, low, high, names), _value(b, name, low, high, names)
            if name == "day_of_week" and b == "sun":
                last = 7  # "sat-sun", "mon-sun": Sunday closes the week
            if first > last:
                raise InvalidInput(f"cron field '{name}' has range '{base}': the start must not be after the end")
        else:
            first = _value(base, name, low, high, names)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


def parse_cron(expr: str, tz: str = "UTC") -> CronTrigger:
    """A CronTrigger for a five-field cron expression in the given IANA zone, or InvalidInput
    naming the bad field and what it allows."""
    zone = parse_tz(tz)
    parts = expr.split()
    if len(parts) != 5:
        raise InvalidInput(f"cron expression '{expr}' has {len(parts)} fields; it needs 5: "
                           "minute hour day-of-month month day-of-week (e.g. '30 2 * * 1-5')")
    kwargs = {}
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        values = _field_values(part, name, low, high, names)
        if part == "*":
            kwargs[name] = "*"
        elif name == "day_of_week":
            days = sorted({v % 7 for v in values}, key=lambda d: (d + 6) % 7)  # Monday first
            kwargs[name] = ",".join(_DAYS[d] for d in days)
        else:
            kwargs[name] = ",".join(str(v) for v in sorted(values))
    from apscheduler.triggers.cron import CronTrigger
    try:
        return CronTrigger(timezone=zone, **kwargs)
    except ValueError as exc:  # e.g. day 31 in February only
        raise InvalidInput(f"cron expression '{expr}': {exc}") from exc


# ---- intervals and one-off times -----------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_INTERVAL_S = 1.0                # an interval schedule fires at most once a second
MAX_DURATION_S = 10 * 365 * 86400   # any duration: ten years (more overflows date arithmetic)


def parse_duration(text: str) -> float:
    """Seconds in '90', '90s', '5m', '1h30m', '2d'."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise InvalidInput(f"duration '{text}' is not understood: use e.g. 30s, 5m, 1h30m, 2d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise InvalidInput(f"duration '{text}' must be more than zero")
    if seconds > MAX_DURATION_S:
        raise InvalidInput(f"duration '{text}' is too long: at most {MAX_DURATION_S // 86400}d (ten years)")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def parse_at(text: str, tz: str = "UTC") -> datetime:
    """An aware time from ISO text ('2025-06-01 14:00', with or without an offset)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"time '{text}' is not understood: "
                           "use YYYY-MM-DD HH:MM[:SS], optionally with +HH:MM") from exc
    if not 1970 <= value.year <= 9998:  # the ends of the calendar overflow once a zone is applied
        raise InvalidInput(f"time '{text}' is out of range: give a year from 1970 to 9998")
    return value if value.tzinfo else value.replace(tzinfo=parse_tz(tz))


# ---- triggers and previews -----------------------------------------------------------------

def validate(schedule: Schedule) -> None:
    """What a new or changed schedule must be beyond parsing: an interval of at least a second,
    and a cron expression that fires at all (``0 0 31 2 *`` never does)."""
    trigger = trigger_for(schedule)
    if schedule.kind is ScheduleKind.INTERVAL and float(schedule.expr) < MIN_INTERVAL_S:
        raise InvalidInput(f"an interval of {format_duration(float(schedule.expr))} is too short: "
                           f"the shortest is {MIN_INTERVAL_S:g}s")
    if (schedule.kind is ScheduleKind.CRON
            and trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None):
        raise InvalidInput(f"cron expression '{schedule.expr}' never fires: no date matches its day, month and "
                           "weekday fields together")


def trigger_for(schedule: Schedule):
    """The APScheduler trigger of a schedule (raises InvalidInput if it is malformed)."""
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if schedule.kind is ScheduleKind.CRON:
        return parse_cron(schedule.expr, schedule.tz)
    if schedule.kind is ScheduleKind.INTERVAL:
        try:
            seconds = float(schedule.expr)
        except ValueError:
            raise InvalidInput(f"interval '{schedule.expr}' is not a number of seconds") from None
        if not 0 < seconds <= MAX_DURATION_S:
            raise InvalidInput(f"an interval must be more than zero seconds and at most "
                               f"{MAX_DURATION_S // 86400}d, not {schedule.expr}")
        seconds = max(seconds, MIN_INTERVAL_S)  # one stored before the minimum existed
        anchor = datetime.fromtimestamp(schedule.created_at or 0, UTC) + timedelta(seconds=seconds)
        return IntervalTrigger(seconds=seconds, start_date=anchor, timezone=parse_tz(schedule.tz))
    return DateTrigger(run_date=parse_at(schedule.expr, schedule.tz), timezone=parse_tz(schedule.tz))


def fire_times(trigger, after: datetime, until: datetime, limit: int = 10_000) -> list[datetime]:
    """Fire times t with after < t <= until, oldest first (at most ``limit``)."""
    found: list[datetime] = []
    t = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while t is not None and _utc(t) <= _utc(until) and len(found) < limit:
        if _utc(t) > _utc(after):
            found.append(t)
        following = trigger.get_next_fire_time(t, t)
        if following is None or _utc(following) <= _utc(t):
            break
        t = following
    return found


def _utc(t: datetime) -> datetime:
    # aware datetimes in one zone compare by wall clock, ignoring fold: compare instants
    return t.astimezone(UTC)


@dataclass(frozen=True)
class FirePreview:
    at: datetime              # the instant, in the schedule's zone (normalized)
    flag: str | None = None   # "gap" (spring forward) or "repeat" (fall back)
    note: str = ""


def _wall_exists(wall: datetime, zone) -> bool:
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _wall_ambiguous(wall: datetime, zone) -> bool:
    return (_wall_exists(wall, zone) and
            wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset())


def preview(schedule: Schedule, count: int = 5, now: datetime | None = None) -> list[FirePreview]:
    """The next ``count`` fire times as APScheduler will fire them, with DST gaps and repeats
    flagged: a gap when a wall-clock time the schedule names does not exist that day (it
    fires at the instant APScheduler picks, or not at all), a repeat when it exists twice."""
    trigger = trigger_for(schedule)
    zone = parse_tz(schedule.tz)
    now = now or datetime.now(UTC)
    naive = None
    from apscheduler.triggers.cron import CronTrigger
    if schedule.kind is ScheduleKind.CRON:  # the same fields on a clock without DST: what the user "meant"
        naive = CronTrigger(**{f.name: str(f) for f in trigger.fields if not f.is_default}, timezone=UTC)
    out: list[FirePreview] = []
    previous_wall: datetime | None = None
    t = trigger.get_next_fire_time(None, now)
    while t is not None and len(out) < count:
        wall = t.replace(tzinfo=None)
        instant = t.astimezone(UTC).astimezone(zone)
        flag, note = None, ""
        if not _wall_exists(wall, zone):
            flag, note = "gap", (f"{wall:%H:%M} does not exist on {wall:%Y-%m-%d} (clocks go forward); "
                                 f"fires at {instant:%H:%M %Z}")
        elif _wall_ambiguous(wall, zone):
            which = "second" if t.fold else "first"
            flag, note = "repeat", f"{wall:%H:%M} occurs twice on {wall:%Y-%m-%d} (clocks go back); this is the {which}"
        elif naive is not None and previous_wall is not None:
            skipped = [w for w in fire_times(naive, previous_wall.replace(tzinfo=UTC), wall.replace(tzinfo=UTC), 50)
                       if not _wall_exists(w.replace(tzinfo=None), zone)]
            if skipped:
                flag = "gap"
                note = (f"{', '.join(f'{w:%H:%M}' for w in skipped)} on {skipped[0]:%Y-%m-%d} do not exist "
                        f"(clocks go forward) and are skipped")
        out.append(FirePreview(instant, flag, note))
        previous_wall = wall
        following = trigger.get_next_fire_time(t, t)
        if following is None or _utc(following) <= _utc(t):
            break
        t = following
    return out
