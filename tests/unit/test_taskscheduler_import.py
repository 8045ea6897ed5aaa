"""Windows Task Scheduler exports (tests/data/taskscheduler: UTF-16 with a BOM and CRLF, as
``schtasks /query /xml`` writes them) to a job and schedules, the report of what did not map,
and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import StepKind
from labdeck.core.schedules import ScheduleKind
from labdeck.importers import InventoryError
from labdeck.importers.taskscheduler import parse_task

DATA = Path(__file__).resolve().parents[1] / "data" / "taskscheduler"


def test_daily_weekly_monthly_and_one_off_triggers_become_schedules_in_the_pcs_zone():
    raw = (DATA / "nightly-prep.xml").read_bytes()
    assert raw.startswith(b"\xff\xfe") and "\r\n".encode("utf-16-le") in raw
    task = parse_task(DATA / "nightly-prep.xml", "tag:windows", tz="Europe/Berlin")
    job = task.job
    assert (job.name, job.targets) == ("Nightly-Prep", "tag:windows")
    assert job.description == "Daten vorbereiten – nightly prep for the GPU boxes"
    assert [s.kind for s in job.steps] == [StepKind.COMMAND, StepKind.COMMAND]
    assert job.steps[0].command == 'cd /d "C:\\Lab Tools" && "C:\\Lab Tools\\prep.bat" --shards 64 "D:\\data\\train"'
    assert job.steps[1].command == "%SystemRoot%\\System32\\cmd.exe /c echo prep finished >> C:\\Lab\\prep.log"
    assert (job.policy.timeout_s, job.policy.overlap, job.policy.retries, job.policy.retry_delay_s) == \
        (72 * 3600, "queue", 3, 300)
    crons = [(s.expr, s.tz, s.enabled) for s in task.schedules if s.kind is ScheduleKind.CRON]
    assert crons == [("30 2 * * *", "Europe/Berlin", True), ("5 18 * * mon,fri", "Europe/Berlin", True),
                     ("0 6 1,15 1,4,7,10 *", "Europe/Berlin", False)]
    assert all(s.catch_up.value == "once" for s in task.schedules)  # StartWhenAvailable
    report = "\n".join(task.not_converted)
    for left in ("SendEmail", "every 3 days", "at log on", "start only if the computer is idle",
                 "do not start on battery", "an end date (2026-12-31", "highest privileges", "has passed"):
        assert left in report, left


def test_synchronized_start_times_keep_their_offset_and_repetitions_map_when_exact():
    task = parse_task(DATA / "results-sync.xml", "win1", tz="Europe/Berlin")
    assert task.job.name == "results-sync" and task.job.policy.timeout_s is None
    daily, every7 = task.schedules
    assert (daily.expr, daily.tz) == ("5,20,35,50 * * * *", "Etc/GMT-1")  # +01:00, every 15 min, all day
    assert (every7.kind, float(every7.expr), every7.tz) == (ScheduleKind.INTERVAL, 420.0, "UTC")
    assert every7.created_at + 420 == 1714522200  # fires at 00:10Z + n*7 min, the task's own phase
    report = "\n".join(task.not_converted)
    assert "every PT1H for PT12H only" in report and "at startup" in report


def test_the_job_name_and_project_can_be_chosen():
    task = parse_task(DATA / "results-sync.xml", "win1", name="sync", project="ops")
    assert (task.job.name, task.job.project) == ("sync", "ops")
    assert {s.job_name for s in task.schedules} == {"sync"}


def _utf16(path: Path, body: str) -> Path:
    path.write_bytes(('<?xml version="1.0" encoding="UTF-16"?>\r\n' + body).encode("utf-16"))
    return path


@pytest.mark.parametrize("body, line, reason", [
    ("<Task>\r\n  <Actions>\r\n    <Exec><Command>a</Command>\r\n  </Actions>\r\n</Task>\r\n", 5, "not valid XML"),
    ("<Job/>\r\n", 2, "not a Task Scheduler task"),
    ("<Task>\r\n  <Actions><ShowMessage/></Actions>\r\n</Task>\r\n", 2, "no Exec action"),
    ("<Task>\r\n  <Actions>\r\n    <Exec><Arguments>x</Arguments></Exec>\r\n  </Actions>\r\n</Task>\r\n", 4,
     "no <Command>"),
])
def test_broken_task_files_name_the_line(tmp_path, body, line, reason):
    path = _utf16(tmp_path / "task.xml", body)
    with pytest.raises(InventoryError, match=rf"task.xml:{line}: .*{reason}"):
        parse_task(path, "win1")


def test_a_trigger_at_an_odd_second_or_nth_weekday_is_reported_not_guessed(tmp_path):
    body = ("<Task><Triggers>"
            "<CalendarTrigger><StartBoundary>2024-01-01T02:00:30</StartBoundary>"
            "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
            "<CalendarTrigger><StartBoundary>2024-01-01T02:00:00</StartBoundary><ScheduleByMonthDayOfWeek>"
            "<Weeks><Week>2</Week></Weeks><DaysOfWeek><Tuesday/></DaysOfWeek></ScheduleByMonthDayOfWeek>"
            "</CalendarTrigger></Triggers><Actions><Exec><Command>x.exe</Command></Exec></Actions></Task>")
    task = parse_task(_utf16(tmp_path / "t.xml", body), "win1")
    assert task.schedules == []
    assert "second 30" in task.not_converted[0] and "nth weekday" in task.not_converted[1]
