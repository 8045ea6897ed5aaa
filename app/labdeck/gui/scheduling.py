"""Scheduling as the GUI sees it, without widgets: who fires this catalog's schedules (this app,
another LabDeck process, or nobody), starting the engine's scheduler, and the next fire as text,
and the daylight-saving notes of upcoming cron fires."""

from __future__ import annotations

from datetime import datetime

from ..core.errors import LabDeckError
from ..core.schedules import Schedule, ScheduleKind, parse_tz, preview
from ..store.schedules import ScheduleStore


def scheduler_state(engine) -> tuple[str, str]:
    """(state, text): state is "here", "other", "paused" or "none"."""
    store = ScheduleStore(engine.catalog)
    paused = store.paused()
    if engine.scheduler.running:
        if paused:
            return "paused", "Scheduling is PAUSED: no schedule fires until it is resumed"
        return "here", "Scheduling: this app fires the schedules"
    other = engine.scheduler.other_owner()
    if other and other[2] is not False:
        host, pid, alive = other
        where = f"process {pid}" + ("" if alive else f" on {host}")
        return "other", (f"Scheduling: another LabDeck process ({where}: 'labdeck daemon' or another app) fires "
                         f"the schedules of this catalog" + (" — all scheduling is PAUSED" if paused else ""))
    return "none", "Scheduling: OFF — no LabDeck process fires schedules for this catalog"


def start_scheduling(engine) -> str | None:
    """Start the engine's scheduler; None when it runs here, else why not (another process has it)."""
    try:
        engine.start_scheduler()
    except LabDeckError as exc:
        return str(exc)
    return None


def dst_flags(schedules: list[Schedule], now: datetime, horizon_s: float, limit: int) -> dict[tuple[int, int], str]:
    """DST notes of the cron fires in the next 24 h, keyed by (schedule id, epoch second)."""
    notes = {}
    for s in schedules:
        if s.enabled and s.kind is ScheduleKind.CRON:
            try:
                for p in preview(s, limit, now=now):
                    if p.flag and p.at.timestamp() <= now.timestamp() + horizon_s:
                        notes[(s.id, round(p.at.timestamp()))] = f"DST {p.flag}: {p.note}"
            except LabDeckError:
                pass
    return notes


def next_fire_text(s: Schedule, paused: bool, now: datetime) -> tuple[str, str, str | None]:
    """(text, tooltip, DST flag) of a schedule's next fire, in its zone, with local time in the tooltip."""
    if not s.enabled:
        return "— (disabled)", "", None
    if paused:
        return "— (all paused)", "", None
    try:
        fires = preview(s, 1, now=now)
    except LabDeckError as exc:
        return "invalid", str(exc), None
    if not fires:
        return "never (time passed)", "", None
    p = fires[0]
    at = p.at.astimezone(parse_tz(s.tz)) if s.kind is not ScheduleKind.INTERVAL else p.at.astimezone()
    local = p.at.astimezone()
    text = f"{at:%Y-%m-%d %H:%M:%S %Z}"
    tip = f"local time: {local:%Y-%m-%d %H:%M:%S %Z}"
    if p.flag:
        text += f"  ⚠ DST {p.flag}"
        tip += f"\n{p.note}"
    return text, tip, p.flag
