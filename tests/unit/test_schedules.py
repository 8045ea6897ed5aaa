"""Schedules as values: cron and time-zone errors that say what is wrong, durations, and
previews that follow APScheduler's CronTrigger exactly across Europe/Berlin's DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger

from labdeck.core.errors import InvalidInput
from labdeck.core.schedules import (
    Schedule,
    ScheduleKind,
    fire_times,
    parse_cron,
    parse_duration,
    parse_tz,
    preview,
    trigger_for,
)
from labdeck.store.catalog import Catalog
from labdeck.store.schedules import ScheduleStore

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize("expr, message", [
    ("0 25 * * *", "cron field 'hour' has '25': allowed 0-23"),
    ("60 * * * *", "cron field 'minute' has '60': allowed 0-59"),
    ("0 0 0 * *", "cron field 'day' has '0': allowed 1-31"),
    ("0 0 * 13 *", "cron field 'month' has '13': allowed 1-12"),
    ("0 0 * * 8", "cron field 'day_of_week' has '8': allowed 0-7 (0 or 7 = Sunday)"),
    ("0 0 * * funday", "cron field 'day_of_week' has 'funday': allowed 0-7 or sun-sat"),
    ("*/0 * * * *", "cron field 'minute' has step '0'"),
    ("0 0 * *", "has 4 fields; it needs 5"),
])
def test_a_malformed_cron_names_the_field_and_what_is_allowed(expr, message):
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expr, "UTC")


def test_an_unknown_time_zone_suggests_the_closest_name():
    with pytest.raises(InvalidInput, match="unknown time zone 'Europe/Berln': did you mean Europe/Berlin\\?"):
        parse_tz("Europe/Berln")
    with pytest.raises(InvalidInput, match="give an IANA name"):
        parse_tz("Nowhere/Atall")
    with pytest.raises(InvalidInput, match="unknown time zone 'Europe/Berln'"):
        parse_cron("0 0 * * *", "Europe/Berln")


def test_cron_weekdays_use_cron_numbering_not_apschedulers():
    # cron: 0 and 7 are Sunday, 1-5 Monday to Friday (APScheduler's own numbering starts at Monday)
    start = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday
    days = {t.strftime("%a") for t in fire_times(parse_cron("0 9 * * 1-5"), start, datetime(2025, 6, 16, tzinfo=UTC))}
    assert days == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    sundays = fire_times(parse_cron("0 9 * * 0,7"), start, datetime(2025, 6, 16, tzinfo=UTC))
    assert [t.strftime("%a %d") for t in sundays] == ["Sun 08", "Sun 15"]
    assert {t.strftime("%a") for t in fire_times(parse_cron("0 9 * * sat-sun"), start,
                                                 datetime(2025, 6, 16, tzinfo=UTC))} == {"Sat", "Sun"}


def test_durations():
    assert parse_duration("90") == 90 and parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    for bad in ("", "5x", "0", "m5"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def _aps_times(expr: str, start: datetime, count: int) -> list[datetime]:
    trigger = CronTrigger.from_crontab(expr, timezone=BERLIN)
    t, out = trigger.get_next_fire_time(None, start), []
    while len(out) < count:
        out.append(t.astimezone(UTC))
        t = trigger.get_next_fire_time(t, t)
    return out


@pytest.mark.parametrize("expr, start", [
    ("30 2 * * *", datetime(2025, 3, 29, tzinfo=UTC)),       # 02:30 does not exist on 30 March
    ("*/30 1-3 * * *", datetime(2025, 3, 29, 23, tzinfo=UTC)),
    ("30 2 * * *", datetime(2025, 10, 25, tzinfo=UTC)),      # 02:30 happens twice on 26 October
    ("0 * * * *", datetime(2025, 10, 25, 22, tzinfo=UTC)),
])
def test_berlin_dst_previews_are_apschedulers_fire_times(expr, start):
    schedule = Schedule("j", ScheduleKind.CRON, expr, BERLIN)
    got = preview(schedule, 8, now=start)
    assert [p.at.astimezone(UTC) for p in got] == _aps_times(expr, start, 8)


def test_spring_forward_is_flagged_as_a_gap():
    got = preview(Schedule("j", ScheduleKind.CRON, "30 2 * * *", BERLIN), 3, now=datetime(2025, 3, 29, tzinfo=UTC))
    assert [(p.at.strftime("%m-%d %H:%M %Z"), p.flag) for p in got] == [
        ("03-29 02:30 CET", None), ("03-30 03:30 CEST", "gap"), ("03-31 02:30 CEST", None)]
    assert "02:30 does not exist on 2025-03-30" in got[1].note
    # APScheduler skips 02:00 and 02:30 of a half-hourly schedule: the next fire says so
    half = preview(Schedule("j", ScheduleKind.CRON, "*/30 1-3 * * *", BERLIN), 4,
                   now=datetime(2025, 3, 29, 23, tzinfo=UTC))
    assert [(p.at.strftime("%H:%M"), p.flag) for p in half] == [
        ("01:00", None), ("01:30", None), ("03:00", "gap"), ("03:30", None)]
    assert "02:00, 02:30" in half[2].note and "skipped" in half[2].note


def test_fall_back_is_flagged_as_a_repeat_and_fires_twice():
    got = preview(Schedule("j", ScheduleKind.CRON, "30 2 * * *", BERLIN), 4, now=datetime(2025, 10, 25, tzinfo=UTC))
    assert [(p.at.strftime("%m-%d %H:%M %Z"), p.flag) for p in got] == [
        ("10-25 02:30 CEST", None), ("10-26 02:30 CEST", "repeat"), ("10-26 02:30 CET", "repeat"),
        ("10-27 02:30 CET", None)]
    assert "first" in got[1].note and "second" in got[2].note
    assert (got[2].at.astimezone(UTC) - got[1].at.astimezone(UTC)).total_seconds() == 3600


def test_interval_and_one_off_fire_times():
    every = Schedule("j", ScheduleKind.INTERVAL, "2", created_at=1000.0)
    fires = fire_times(trigger_for(every), datetime.fromtimestamp(1001, UTC), datetime.fromtimestamp(1007, UTC))
    assert [t.timestamp() for t in fires] == [1002, 1004, 1006]
    once = Schedule("j", ScheduleKind.DATE, "2025-01-01 10:00", BERLIN)
    assert len(fire_times(trigger_for(once), datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))) == 1


def test_schedule_store_crud_pause_and_signature(tmp_path):
    from labdeck.core.models import Job, Step
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_job(Job(name="j", steps=[Step(command="true")]))
    store = ScheduleStore(catalog)
    sig = store.signature()
    s = store.add(Schedule("j", ScheduleKind.CRON, "0 3 * * *", BERLIN))
    assert store.signature() != sig and store.get(s.id).tz == BERLIN and s.last_checked
    with pytest.raises(InvalidInput, match="cron field 'minute'"):
        store.add(Schedule("j", ScheduleKind.CRON, "99 3 * * *"))
    store.set_enabled(s.id, False)
    assert not store.get(s.id).enabled
    store.set_paused(True)
    assert store.paused()
    catalog.remove_job("j")  # its schedules go with it
    assert store.list() == []
    catalog.close()
