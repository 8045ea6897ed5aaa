"""Schedules in the desktop app, over the real engine and catalog: the editor (zones, DST
warnings in the preview, engine messages for bad input), the Schedules page (next fire,
upcoming runs, last result, pause all), the tray toggle, the scheduler started by the app
(or refused because another process has it), and a 1-second interval that really fires."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime

from PySide6.QtCore import Qt

from labdeck.core.schedules import CatchUp, Schedule, ScheduleKind
from labdeck.engine.scheduler import OWNER_SETTING
from labdeck.gui.dialogs.schedule_dialog import ScheduleDialog
from labdeck.gui.status_style import STATUS_COLORS
from labdeck.store.catalog import Catalog
from labdeck.store.schedules import ScheduleStore

SCHEDULES_PAGE = 5  # Ctrl+6


def _click(qtbot, button):
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _cron_dialog(page, job="hello", expr="30 2 * * *", zone="Europe/Berlin"):
    dialog = page.add_schedule()
    dialog.job.setCurrentText(job)
    dialog.kind.setCurrentIndex(0)
    dialog.cron.setText(expr)
    dialog.zone.setCurrentText(zone)
    return dialog


def _timeline(page) -> list[tuple[str, list[list[str]]]]:
    tl = page.timeline
    return [(tl.topLevelItem(i).text(0), [[tl.topLevelItem(i).child(j).text(c) for c in range(4)]
                                          for j in range(tl.topLevelItem(i).childCount())])
            for i in range(tl.topLevelItemCount())]


def test_cron_schedule_in_berlin_through_the_dialog_shows_its_next_fire(qtbot, window, engine):
    window.show_page(SCHEDULES_PAGE)
    page = window.schedules_page
    page.now = lambda: datetime(2027, 1, 10, 12, 0, tzinfo=UTC)  # a fixed clock for the page
    dialog = _cron_dialog(page)
    assert dialog.save_button.isEnabled() and not dialog.message.isVisible()
    assert dialog.fires.topLevelItemCount() == 10
    assert dialog.fires.headerItem().text(1) == "In Europe/Berlin"
    with qtbot.waitSignal(dialog.saved, timeout=3000) as saved:
        _click(qtbot, dialog.save_button)
    sid = saved.args[0]
    stored = ScheduleStore(engine.catalog).get(sid)
    assert (stored.job_name, stored.kind, stored.expr, stored.tz, stored.enabled, stored.catch_up) == \
        ("hello", ScheduleKind.CRON, "30 2 * * *", "Europe/Berlin", True, CatchUp.SKIP)

    assert page.cell(sid, "Next fire") == "2027-01-11 02:30:00 CET"
    assert page.cell(sid, "Zone") == "Europe/Berlin" and "30 2 * * *" in page.cell(sid, "Schedule")
    assert page.cell(sid, "Enabled") == "on" and page.cell(sid, "Last result") == "not fired yet"
    # the upcoming runs of the next 24 h, grouped by local hour (UTC here: 02:30 CET is 01:30 UTC)
    local = datetime(2027, 1, 11, 1, 30, tzinfo=UTC).astimezone()
    groups = _timeline(page)
    assert [g for g, _rows in groups] == [f"{local:%a %d %b, %H}:00 – {local.hour + 1:02d}:00   (1 run(s))"]
    assert groups[0][1][0][:2] == [f"{local:%H:%M:%S}", "hello"]

    # the real clock: the next fire is the next 02:30 in Berlin, in the next 25 hours
    page.now = lambda: datetime.now(UTC)
    page.refresh()
    shown = datetime.strptime(page.cell(sid, "Next fire")[:19], "%Y-%m-%d %H:%M:%S")
    assert (shown.hour, shown.minute) in ((2, 30), (3, 30))

    # edit it in place: same id, new zone
    page.select_schedule(sid)
    edit = page.edit_schedule()
    assert edit.cron.text() == "30 2 * * *" and edit.zone.currentText() == "Europe/Berlin"
    edit.zone.setCurrentText("America/New_York")
    with qtbot.waitSignal(edit.saved, timeout=3000):
        edit.save()
    assert [(s.id, s.tz) for s in ScheduleStore(engine.catalog).list()] == [(sid, "America/New_York")]
    page.now = lambda: datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
    page.refresh()
    assert page.cell(sid, "Next fire") == "2027-01-11 02:30:00 EST"


def test_preview_flags_the_spring_forward_gap(qtbot, window, engine):
    dialog = _cron_dialog(window.schedules_page)
    dialog.set_reference_time(datetime(2027, 3, 26, 12, 0, tzinfo=UTC))  # two days before the change
    assert dialog.use_from.isChecked()
    note = "02:30 does not exist on 2027-03-28 (clocks go forward); fires at 03:30 CEST"
    assert dialog.flagged_rows() == [(1, "gap", note)]
    rows = [[dialog.fires.topLevelItem(i).text(c) for c in range(4)] for i in range(3)]
    assert rows[0][1:3] == ["Sat 2027-03-27 02:30:00 CET", "Sat 2027-03-27 01:30:00 UTC"] and rows[0][3] == ""
    assert rows[1][1:3] == ["Sun 2027-03-28 03:30:00 CEST", "Sun 2027-03-28 01:30:00 UTC"]
    assert rows[1][3].startswith("⚠ gap: 02:30 does not exist on 2027-03-28")
    assert not dialog.fires.topLevelItem(1).icon(0).isNull() and dialog.fires.topLevelItem(0).icon(0).isNull()
    assert dialog.dst_warning.isVisible() and "1 of the next 10" in dialog.dst_warning.text()
    assert dialog.save_button.isEnabled()  # a warning, not an error
    # and a fall-back repeat in October
    dialog.set_reference_time(datetime(2027, 10, 29, 12, 0, tzinfo=UTC))
    assert [f for _r, f, _n in dialog.flagged_rows()] == ["repeat", "repeat"]
    # back to "from now": no change within the next 10 days of late November
    dialog.set_reference_time(None)
    assert not dialog.use_from.isChecked() and dialog.fires.topLevelItemCount() == 10
    dialog.reject()


def test_bad_input_shows_the_engine_message_and_disables_save(qtbot, window, engine):
    dialog = _cron_dialog(window.schedules_page, expr="61 2 * * *")
    assert dialog.message.isVisible()
    assert dialog.message.text() == "cron field 'minute' has '61': allowed 0-59"
    assert not dialog.save_button.isEnabled() and dialog.fires.topLevelItemCount() == 0
    dialog.cron.setText("30 2 * *")
    assert "has 4 fields; it needs 5" in dialog.message.text() and not dialog.save_button.isEnabled()
    dialog.cron.setText("30 2 * * *")
    dialog.zone.setCurrentText("Europe/Berln")
    assert dialog.message.text() == "unknown time zone 'Europe/Berln': did you mean Europe/Berlin?"
    assert not dialog.save_button.isEnabled()
    dialog.save()  # even when called directly nothing is stored
    assert ScheduleStore(engine.catalog).list() == []
    dialog.zone.setCurrentText("Europe/Berlin")
    assert dialog.save_button.isEnabled() and not dialog.message.isVisible()
    dialog.kind.setCurrentIndex(1)  # interval
    dialog.interval.setText("5 parsecs")
    assert "duration '5 parsecs' is not understood" in dialog.message.text() and not dialog.save_button.isEnabled()
    dialog.kind.setCurrentIndex(2)  # one-off in the past
    from PySide6.QtCore import QDateTime
    dialog.at.setDateTime(QDateTime(2001, 1, 1, 0, 0, 0))
    assert "already passed" in dialog.message.text() and not dialog.save_button.isEnabled()
    dialog.reject()


def test_pause_all_persists_and_the_tray_toggles_it(qtbot, window, engine):
    window.show_page(SCHEDULES_PAGE)
    page = window.schedules_page
    ScheduleStore(engine.catalog).add(Schedule("hello", ScheduleKind.CRON, "0 * * * *", "UTC"))
    page.refresh()
    assert not page.pause.isChecked()
    qtbot.mouseClick(page.pause, Qt.MouseButton.LeftButton)
    assert page.pause.isChecked()
    other = Catalog(engine.catalog.path)  # what another process (or the next start) sees
    try:
        assert ScheduleStore(other).paused()
    finally:
        other.close()
    sid = ScheduleStore(engine.catalog).list()[0].id
    assert page.cell(sid, "Next fire") == "— (all paused)" and page.cell(sid, "Enabled") == "on (paused)"
    assert _timeline(page)[0][0] == "Scheduling is paused: nothing fires"

    from labdeck.gui.pages.schedules_page import SchedulesPage
    fresh = SchedulesPage(engine)
    qtbot.addWidget(fresh)
    fresh.refresh()
    assert fresh.pause.isChecked()

    from labdeck.gui.tray import Tray
    tray = Tray(engine)
    assert tray.pause_action.text() == "Resume scheduling"
    tray.pause_action.trigger()  # as if clicked in the tray menu
    assert not ScheduleStore(engine.catalog).paused()
    qtbot.waitUntil(lambda: tray.pause_action.text() == "Pause scheduling", timeout=3000)
    assert tray.toggle_scheduling() is True and ScheduleStore(engine.catalog).paused()
    tray.toggle_scheduling()
    page.refresh()
    assert not page.pause.isChecked() and page.cell(sid, "Next fire").endswith("UTC")
    tray.icon.hide()


def test_jobs_page_schedules_button_opens_the_editor_for_that_job(qtbot, window, engine):
    window.show_page(1)
    window.jobs_page.refresh()
    window.jobs_page.select_job("hello")
    _click(qtbot, window.jobs_page.buttons["schedules"])
    page = window.schedules_page
    assert window.stack.currentWidget() is page and page.job_filter.currentText() == "hello"
    dialog = page.dialog
    assert dialog is not None and dialog.isVisible() and dialog.job.currentText() == "hello"
    dialog.kind.setCurrentIndex(1)
    dialog.interval.setText("1h")
    dialog.catch_up.setCurrentIndex(1)
    dialog.enabled.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=3000) as saved:
        dialog.save()
    s = ScheduleStore(engine.catalog).get(saved.args[0])
    assert (s.kind, float(s.expr), s.catch_up, s.enabled) == (ScheduleKind.INTERVAL, 3600.0, CatchUp.ONCE, False)
    assert page.cell(s.id, "Schedule") == "every 1h" and page.cell(s.id, "Catch-up") == "run once"
    assert page.cell(s.id, "Next fire") == "— (disabled)"
    page.select_schedule(s.id)
    assert not page.buttons["disable"].isEnabled()
    _click(qtbot, page.buttons["enable"])
    assert ScheduleStore(engine.catalog).get(s.id).enabled and page.cell(s.id, "Enabled") == "on"
    asked = []
    page.confirm = lambda _parent, title, text: asked.append(text) or True
    _click(qtbot, page.buttons["remove"])
    assert "every 1h" in asked[0]
    assert ScheduleStore(engine.catalog).list() == []


def test_one_second_interval_created_in_the_gui_fires_runs(qtbot, window, engine):
    assert window.start_scheduling() is None
    assert engine.scheduler.running and window.scheduler_label.text().strip() == "scheduling on"
    window.show_page(SCHEDULES_PAGE)
    page = window.schedules_page
    dialog = page.add_schedule()
    dialog.job.setCurrentText("hello")
    dialog.kind.setCurrentIndex(1)
    dialog.interval.setText("1s")
    with qtbot.waitSignal(dialog.saved, timeout=3000) as saved:
        _click(qtbot, dialog.save_button)
    sid = saved.args[0]

    def scheduled_runs():
        return [r for r in engine.catalog.list_runs("hello", 100) if r.schedule_id == sid]

    qtbot.waitUntil(lambda: any(r.status.value == "succeeded" for r in scheduled_runs()), timeout=20_000)
    run = next(r for r in scheduled_runs() if r.status.value == "succeeded")
    assert run.trigger.value == "schedule" and engine.catalog.node_runs(run.id)[0].node_name == "this-computer"
    # a frequent schedule is one line in the timeline, not 86400
    assert _timeline(page)[0][0].startswith("Frequent (1 schedule(s)")
    ScheduleStore(engine.catalog).set_paused(True)  # stop firing before the engine closes
    page.refresh()
    assert page.cell(sid, "Last result").split(" · ")[0] in ("succeeded", "running", "skipped", "missed")


def test_missed_fires_show_on_the_page_and_in_history_with_their_colour(qtbot, window, engine):
    store = ScheduleStore(engine.catalog)
    past = time.time() - 50
    # added 50 s ago while no scheduler ran (as if LabDeck had been closed): fires 30 s and 10 s ago missed,
    # the next one 10 s from now
    schedule = store.add(Schedule("hello", ScheduleKind.INTERVAL, "20.0", "UTC", created_at=past, last_checked=past))
    assert window.start_scheduling() is None
    qtbot.waitUntil(lambda: "missed" in window.statusBar().currentMessage(), timeout=5000)  # the notification
    missed = engine.catalog.list_runs("hello", 50, "missed")
    assert len(missed) == 2 and all("LabDeck was not running" in r.note for r in missed)
    store.set_paused(True)
    window.show_page(SCHEDULES_PAGE)
    page = window.schedules_page
    page.refresh()
    result = page.cell(schedule.id, "Last result")
    assert result.startswith("missed") and f"({len(missed)} missed in 24 h)" in result

    window.show_page(3)
    runs = window.runs_page
    runs.refresh()
    rows = [r for r in range(runs.model.rowCount()) if runs.model.item(r, 2).text() == "missed"]
    # Nothing ran for a missed fire: no node count, no duration, and the reason is shown.
    assert {runs.model.item(r, 3).text() for r in rows} == {"—"}
    assert {runs.model.item(r, 6).text() for r in rows} == {"—"}
    assert all("LabDeck was not running" in runs.model.item(r, 7).text() for r in rows)
    assert len(rows) == len(missed)
    icon = runs.model.item(rows[0], 2).icon()
    center = icon.pixmap(12, 12).toImage().pixelColor(6, 6)
    assert center.name() == STATUS_COLORS["missed"]


def test_ctrl_6_opens_the_schedules_page(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.schedules_page
    assert window.sidebar.currentItem().text() == "Schedules"


def test_another_process_scheduling_this_catalog_is_shown_not_fatal(qtbot, window, engine):
    other = subprocess.Popen(["sleep", "30"])
    try:
        engine.catalog.set_setting(OWNER_SETTING, f"{socket.gethostname()}:{other.pid}")
        error = window.start_scheduling()
        assert error and f"already runs in process {other.pid}" in error
        assert not engine.scheduler.running
        assert window.scheduler_label.text().strip() == "scheduled by another process"
        page = window.schedules_page
        assert page.state[0] == "other" and str(other.pid) in page.state_label.text()
    finally:
        other.kill()
        other.wait()
    page.update_state()  # the other process is gone: nobody schedules now
    assert page.state[0] == "none" and window.scheduler_label.text().strip() == "scheduling off"
    assert engine.catalog.get_setting(OWNER_SETTING) == f"{socket.gethostname()}:{other.pid}"


def test_dialog_reference_time_is_injectable_at_construction(qtbot, engine):
    dialog = ScheduleDialog(engine, "hello", now=datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
    qtbot.addWidget(dialog)
    dialog.zone.setCurrentText("Europe/Berlin")
    dialog.cron.setText("*/30 1-3 * * *")
    first = [dialog.fires.topLevelItem(i).text(1) for i in range(3)]
    assert first == ["Sun 2027-03-28 01:00:00 CET", "Sun 2027-03-28 01:30:00 CET", "Sun 2027-03-28 03:00:00 CEST"]
    assert dialog.flagged_rows()[0][:2] == (2, "gap") and "02:00, 02:30" in dialog.flagged_rows()[0][2]


def test_the_periodic_scheduler_check_asks_the_engine_off_the_gui_thread(qtbot, window, engine):
    """Who schedules is a question for the engine — in the app a round trip to the engine
    process, which a busy engine (nodes streaming) answered in 60-90 ms: bench_gui caught the
    Schedules page's 5 s tick stalling the window for that long while a run streamed."""
    import threading

    asked_on_gui_thread: list[bool] = []

    class WatchedScheduler:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        @property
        def running(self):
            asked_on_gui_thread.append(threading.current_thread() is threading.main_thread())
            return self._inner.running

    class WatchedEngine:   # the real engine; only the question is recorded
        scheduler = WatchedScheduler(engine.scheduler)

        def __getattr__(self, name):
            return getattr(engine, name)

    page = window.schedules_page
    page.engine = WatchedEngine()
    try:
        page._tick()
        qtbot.waitUntil(lambda: bool(asked_on_gui_thread), timeout=10_000)
        assert asked_on_gui_thread == [False]
        qtbot.waitUntil(lambda: page.state[0] in ("here", "paused", "other", "none") and not page._state_busy,
                        timeout=10_000)
    finally:
        page.engine = engine
