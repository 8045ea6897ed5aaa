"""Projects in the desktop app, with real runs on this computer: the job editor sets a job's
project, and the Jobs and History pages filter by it."""

from __future__ import annotations

from tests.gui.conftest import wait_run_final


def _jobs_shown(page) -> list[str]:
    return [page.table.item(r, 0).text() for r in range(page.table.rowCount())]


def test_the_job_editor_sets_the_project_and_both_pages_filter_by_it(qtbot, window, engine):
    page = window.jobs_page
    window.show_page(1)
    for name, project in (("train", "ml"), ("backup", "ops")):
        dialog = page.new_job()
        dialog.name.setText(name)
        dialog.targets.setText("this-computer")
        dialog.command.setText(f"echo {name}")
        dialog.project.setCurrentText(project)  # a new project, typed into the editable list
        with qtbot.waitSignal(dialog.saved, timeout=5000):
            dialog.save()
    assert engine.catalog.get_job("train").project == "ml"
    page.refresh()
    assert [page.project.itemText(i) for i in range(page.project.count())] == ["All projects", "default", "ml", "ops"]
    assert _jobs_shown(page) == ["backup", "hello", "train"]
    page.project.setCurrentText("ml")
    assert _jobs_shown(page) == ["train"] and page.table.item(0, 1).text() == "ml"
    editor = page.new_job()  # a new job starts in the project shown
    assert editor.project.currentText() == "ml"
    editor.reject()

    for name in ("train", "backup"):
        wait_run_final(qtbot, engine, engine.start_job(name).id)
    runs = window.runs_page
    window.show_page(window.stack.indexOf(runs))
    runs.refresh()
    assert runs.model.rowCount() == 2
    runs.project.setCurrentText("ops")
    qtbot.waitUntil(lambda: runs.model.rowCount() == 1, timeout=5000)
    assert runs.model.item(0, 1).text() == "backup"
    assert [runs.job.itemText(i) for i in range(runs.job.count())] == ["(all)", "backup"]
