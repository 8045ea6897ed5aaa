"""Job references in the desktop app, with real runs on this computer: the parent run's view
lists the runs its job steps started and opens one on double-click; the child's view links
back to its caller."""

from __future__ import annotations

from PySide6.QtCore import Qt

from labdeck.store.jobfile import job_from_yaml
from tests.gui.conftest import wait_run_final


def test_the_run_view_shows_child_runs_and_links_back(qtbot, window, engine):
    engine.catalog.add_job(job_from_yaml("name: prepare\ntargets: this-computer\nsteps: ['echo prepared']\n"))
    engine.catalog.add_job(job_from_yaml("name: nightly\ntargets: this-computer\n"
                                         "steps: ['echo first', {job: prepare}]\n"))
    run = engine.start_job("nightly")
    wait_run_final(qtbot, engine, run.id)
    window.open_run(run.id)
    view = window.run_view
    qtbot.waitUntil(lambda: view.children.table.rowCount() == 2, timeout=5000)
    assert view.children.isVisible() and not view.children.caller.isVisible()
    table = view.children.table
    assert [table.item(r, 1).text() for r in range(2)] == ["nightly", "prepare"]
    assert [table.item(r, 2).text() for r in range(2)] == ["step 1", "step 2: job prepare"]
    assert table.item(1, 3).text() == "succeeded"
    child_id = view.children.run_id_at(1)

    rect = table.visualItemRect(table.item(1, 1))
    with qtbot.waitSignal(view.children.openRun, timeout=2000) as opened:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [child_id] and view.run_id == child_id
    assert view.status_of("this-computer") == "succeeded"
    assert view.children.caller.isVisible() and f"run #{run.id} (nightly)" in view.children.caller.text()
    assert not view.children.table.isVisible()
    view.children.caller.linkActivated.emit(f"run:{run.id}")
    assert view.run_id == run.id


def test_the_job_editor_adds_and_keeps_a_job_step(qtbot, window, engine):
    engine.catalog.add_job(job_from_yaml("name: prepare\ntargets: this-computer\noptions: [{name: n}]\n"
                                         "steps: ['echo n=${option.n}']\n"))
    dialog = window.jobs_page.new_job()
    dialog.name.setText("pipeline")
    dialog.targets.setText("this-computer")
    dialog.command.setText("echo first")
    dialog.add_step()
    dialog.step_kind.setCurrentText("job")
    dialog.ref_job.setCurrentText("prepare")
    dialog.ref_options.setText("n=7")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    job = engine.catalog.get_job("pipeline")
    assert (job.steps[1].kind.value, job.steps[1].job, job.steps[1].options) == ("job", "prepare", {"n": "7"})
    editor = window.jobs_page._open(job)  # opening it again shows the step as it is
    editor.step_list.setCurrentRow(1)
    assert (editor.step_kind.currentText(), editor.ref_job.currentText(), editor.ref_options.text()) == \
        ("job", "prepare", "n=7")
    editor.reject()
