"""The job import dialogs over the real engine and catalog: the Jobs page's "Import jobs…"
(Rundeck YAML/XML) and the Schedules page's "Import from Task Scheduler…" (UTF-16 task XML):
a preview to tick with what each job becomes and what does not convert, the file read off
the GUI thread, Windows targets chosen for tasks, and an all-or-nothing import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from labdeck.core.models import Node, Transport, WinrmSettings
from labdeck.store.schedules import ScheduleStore

DATA = Path(__file__).resolve().parents[1] / "data"


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _load(qtbot, dialog, path) -> tuple[bool, str]:
    dialog.path.setText(str(path))
    with qtbot.waitSignal(dialog.loaded, timeout=20_000) as blocker:
        dialog.load()
        # the file is read on a worker thread: load() returns at once, the table fills later
        assert dialog.busy and not dialog.import_button.isEnabled()
    return blocker.args[0], blocker.args[1]


def _row(dialog, name: str) -> int:
    return next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 1).text() == name)


def test_rundeck_jobs_preview_tick_and_import_only_the_ticked(window, qtbot):
    _click(qtbot, window.jobs_page.buttons["import"])     # "Import jobs…" on the Jobs page
    dialog = window.jobs_page.import_dialog
    assert dialog.isVisible() and dialog.windowTitle() == "Import jobs from Rundeck"
    ok, _message = _load(qtbot, dialog, DATA / "rundeck" / "jobs.xml")
    assert ok and dialog.table.rowCount() == 2
    sync = _row(dialog, "sync-results")
    becomes = dialog.table.item(sync, 2).text()
    assert "project ml/training" in becomes and "2 steps" in becomes and "on tag:gpu" in becomes
    assert "15 4 * * * UTC" in becomes
    assert "SlackNotification" in dialog.table.item(sync, 3).text()   # what will not be converted, and why
    dialog.table.selectRow(sync)
    assert "NOT converted: step 3: plugin step 'localexec' is Rundeck-only" in dialog.details.toPlainText()

    dialog.set_ticked(["sync-results"])
    assert dialog.import_button.text() == "Import 1 jobs"
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as done:
        _click(qtbot, dialog.import_button)
    assert done.args[0] == ["sync-results"]
    names = {j.name for j in window.engine.catalog.list_jobs()}
    assert "sync-results" in names and "every-second" not in names
    assert [s.expr for s in ScheduleStore(window.engine.catalog).list("sync-results")] == ["15 4 * * *"]
    assert window.jobs_page.selected_job() == "sync-results"      # the page shows it at once
    assert "exists: kept" in dialog.table.item(_row(dialog, "sync-results"), 2).text()
    dialog.reject()


def test_rundeck_import_is_all_or_nothing_and_a_broken_file_names_its_line(window, qtbot, tmp_path):
    window.engine.catalog.add_node(Node("gpu01", transport=Transport.LOCAL, tags=["gpu"]))
    dialog = window.jobs_page.import_jobs()
    _load(qtbot, dialog, DATA / "rundeck" / "jobs.xml")
    dialog.set_ticked(["sync-results"])
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        _click(qtbot, dialog.import_button)

    # again, with both ticked: sync-results exists now, so neither is imported
    dialog.replace.setChecked(False)
    dialog.set_ticked(["sync-results", "every-second"])
    with qtbot.waitSignal(dialog.importFailed, timeout=20_000) as failed:
        _click(qtbot, dialog.import_button)
    assert "nothing was imported" in failed.args[0] and "sync-results" in failed.args[0]
    assert "every-second" not in {j.name for j in window.engine.catalog.list_jobs()}
    assert "nothing was imported" in dialog.message.text()

    broken = tmp_path / "jobs.yaml"
    broken.write_text("- name: a\n  sequence:\n    commands:\n    - exec: x\n  options: [\n")
    ok, message = _load(qtbot, dialog, broken)
    assert not ok and "jobs.yaml:6:" in message and "not valid YAML" in dialog.message.text()
    assert dialog.table.rowCount() == 0 and not dialog.import_button.isEnabled()
    dialog.reject()


def test_a_job_that_cannot_be_imported_is_greyed_with_its_reason(window, qtbot):
    dialog = window.jobs_page.import_jobs()
    _load(qtbot, dialog, DATA / "rundeck" / "jobs.yaml")
    cleanup = _row(dialog, "last-day-cleanup")
    tick = dialog.table.item(cleanup, 0)
    assert not tick.flags() & Qt.ItemFlag.ItemIsUserCheckable and tick.checkState() == Qt.CheckState.Unchecked
    assert dialog.table.item(cleanup, 2).text().startswith("not imported: its node filter 'osFamily: unix'")
    # targets given for every job: the filter no longer matters and the job can be imported
    dialog.targets.setText("this-computer")
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):
        dialog.targets.editingFinished.emit()
    cleanup = _row(dialog, "last-day-cleanup")
    assert dialog.table.item(cleanup, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert "on this-computer" in dialog.table.item(cleanup, 2).text()
    dialog.reject()


def _windows(catalog, name: str, shell: str = "cmd") -> None:
    catalog.add_node(Node(name, transport=Transport.WINRM, host="10.9.0.5", username="lab", tags=["windows"],
                          winrm=WinrmSettings(shell=shell)))


def test_task_scheduler_tasks_become_jobs_on_the_windows_pcs_ticked(window, qtbot):
    catalog = window.engine.catalog
    _windows(catalog, "win1")
    _windows(catalog, "win2")
    _windows(catalog, "winps", shell="powershell")
    _click(qtbot, window.schedules_page.buttons["import"])   # "Import from Task Scheduler…"
    dialog = window.schedules_page.import_dialog
    assert dialog.isVisible()
    listed = {dialog.nodes.item(i).text(): dialog.nodes.item(i).flags() for i in range(dialog.nodes.count())}
    assert set(listed) >= {"win1  (windows)", "win2  (windows)"} and "this-computer" not in " ".join(listed)
    powershell = next(text for text in listed if text.startswith("winps"))
    assert "PowerShell" in powershell and not listed[powershell] & Qt.ItemFlag.ItemIsEnabled
    dialog.tz.setText("Europe/Berlin")

    paths = f"{DATA / 'taskscheduler' / 'nightly-prep.xml'}; {DATA / 'taskscheduler' / 'results-sync.xml'}"
    ok, _message = _load(qtbot, dialog, paths)
    assert ok and dialog.table.rowCount() == 2
    prep = _row(dialog, "Nightly-Prep")
    assert "at log on" in dialog.table.item(prep, 3).text()
    assert "choose the PCs" in dialog.table.item(prep, 2).text()
    with qtbot.waitSignal(dialog.importFailed, timeout=5_000) as refused:
        _click(qtbot, dialog.import_button)
    assert "tick the Windows PCs" in refused.args[0]

    dialog.set_nodes(["win1", "win2"])
    assert "on win1,win2" in dialog.table.item(prep, 2).text()
    assert "3 schedules" in dialog.table.item(prep, 2).text()
    dialog.table.selectRow(prep)
    assert "schedule 30 2 * * * Europe/Berlin; 5 18 * * mon,fri Europe/Berlin" in dialog.details.toPlainText()
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as done:
        _click(qtbot, dialog.import_button)
    assert sorted(done.args[0]) == ["Nightly-Prep", "results-sync"]
    job = catalog.get_job("Nightly-Prep")
    assert job.targets == "win1,win2" and "prep.bat" in job.steps[0].command
    assert sorted(s.expr for s in ScheduleStore(catalog).list("Nightly-Prep")) == [
        "0 6 1,15 1,4,7,10 *", "30 2 * * *", "5 18 * * mon,fri"]
    qtbot.waitUntil(lambda: window.schedules_page.table.rowCount() >= 3, timeout=5_000)
    dialog.reject()


def test_a_job_that_runs_an_unticked_job_of_the_file_stops_the_whole_import(window, qtbot, tmp_path):
    export = tmp_path / "jobs.yaml"
    export.write_text("- name: pipeline\n  sequence:\n    commands:\n    - exec: echo start\n"
                      "    - jobref: {name: evaluate}\n"
                      "- name: evaluate\n  sequence: {commands: [{exec: echo evaluating}]}\n")
    dialog = window.jobs_page.import_jobs()
    ok, _message = _load(qtbot, dialog, export)
    assert ok and len(dialog.ticked()) == 2      # the reference is met inside the file
    dialog.set_ticked(["pipeline"])
    with qtbot.waitSignal(dialog.importFailed, timeout=20_000) as failed:
        _click(qtbot, dialog.import_button)
    assert "nothing was imported: pipeline" in failed.args[0] and "evaluate" in failed.args[0]
    assert not {"pipeline", "evaluate"} & {j.name for j in window.engine.catalog.list_jobs()}
    dialog.set_ticked(["pipeline", "evaluate"])
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as done:
        _click(qtbot, dialog.import_button)
    assert sorted(done.args[0]) == ["evaluate", "pipeline"]
    dialog.reject()
