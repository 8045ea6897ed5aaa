"""Quartz cron expressions (Rundeck's schedules) to five-field cron, only when exact.

Quartz has seven fields — seconds, minutes, hours, day of month, month, day of week (1 =
Sunday), year — and ``?``, ``L``, ``W`` and ``#``. A schedule converts when it fires at second
0, in every year, and uses nothing five-field cron cannot say; otherwise QuartzNotExact says
why, and the caller reports that part as not converted.
"""

from __future__ import annotations

import re

_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MAX = {"minute": 59, "hour": 23, "day of month": 31, "month": 12}


class QuartzNotExact(ValueError):
    """The Quartz expression has no exact five-field cron equivalent; the message says why."""


def quartz_to_cron(expr: str) -> str:
    fields = expr.split()
    if len(fields) not in (6, 7):
        raise QuartzNotExact(f"'{expr}' is not a Quartz expression (6 or 7 fields: seconds minutes hours "
                             "day-of-month month day-of-week [year])")
    seconds, minutes, hours, dom, month, dow = fields[:6]
    year = fields[6] if len(fields) == 7 else "*"
    if seconds != "0":
        raise QuartzNotExact(f"it fires at second '{seconds}'; LabDeck schedules fire on the minute")
    if year != "*":
        raise QuartzNotExact(f"it is limited to year '{year}'; a LabDeck cron schedule repeats every year "
                             "(use a one-off schedule for a single date)")
    for text, what in ((minutes, "minute"), (hours, "hour"), (dom, "day of month"), (month, "month"), (dow, "day of week")):
        special = re.search(r"[LW#]", re.sub(r"[A-Z]{3}", "", text.upper()))  # JUL, WED... are names, not L/W
        if special:
            raise QuartzNotExact(f"its {what} '{text}' uses Quartz's '{special.group()}' "
                                 "(last day, nearest weekday or nth weekday), which cron cannot say")
    if dom != "?" and dow != "?" and not (dom == "*" or dow == "*"):
        raise QuartzNotExact(f"it sets both day of month '{dom}' and day of week '{dow}'")
    cron = " ".join([_steps(minutes, "minute"), _steps(hours, "hour"), _steps("*" if dom == "?" else dom, "day of month"),
                     _steps(month.lower(), "month"), _day_of_week("*" if dow == "?" else dow)])
    return re.sub(r"\b0+(\d)", r"\1", cron)  # Rundeck writes hour '02': cron '2'


def _steps(text: str, what: str) -> str:
    """Quartz 'a/b' (from a, every b) is cron 'a-MAX/b'; '*/b' and the rest are the same."""
    out = []
    for term in text.split(","):
        base, sep, step = term.partition("/")
        if sep and base not in ("*", "") and "-" not in base:
            base = f"{base}-{_MAX[what]}"
        out.append(f"{base or '*'}{sep}{step}")
    return ",".join(out)


def _day_of_week(text: str) -> str:
    """Quartz numbers days 1 (Sunday) to 7 (Saturday); cron 0 (Sunday) to 6. Names stay."""
    if text == "*":
        return "*"

    def shift(match: re.Match) -> str:
        number = int(match.group())
        if not 1 <= number <= 7:
            raise QuartzNotExact(f"day of week {number} is out of Quartz's range 1-7")
        return str(number - 1)
    out = []
    for term in text.split(","):
        base, sep, step = term.partition("/")
        base = re.sub(r"\d+", shift, base.upper())
        out.append(base.lower() + sep + step)
    return ",".join(out)
