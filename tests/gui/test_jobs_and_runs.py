"""Creating a job in the editor, Run now, watching every node succeed with its log; cancelling a
long run; options asked before a run; re-running failed nodes; the history filters."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from labdeck.gui.models.node_model import RECENT_COLUMN, RECENT_ROLE
from tests.gui.conftest import launched, wait_run_final


def _click(qtbot, button):
    # a button follows the run's state one reload (<= 100 ms after its event) behind the matrix
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _new_job(qtbot, window, name, targets, command, **policy):
    page = window.jobs_page
    dialog = page.new_job()
    dialog.name.setText(name)
    dialog.targets.setText(targets)
    dialog.command.setText(command)
    for key, value in policy.items():
        getattr(dialog, key).setValue(value)
    preview = dialog.preview.text()
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    page.select_job(name)
    return preview


def test_create_job_run_now_all_nodes_succeed_with_logs(qtbot, window, engine, sshd_nodes, add_node):
    nodes = sshd_nodes(2)
    for i, s in enumerate(nodes):
        add_node(s, name=f"lab-{i}", tags=["lab"])
    window.refresh_all()
    window.show_page(1)
    preview = _new_job(qtbot, window, "collect-results", "tag:lab", 'echo "hello from $LABDECK_NODE"; echo second line')
    assert "2 nodes:" in preview and "lab-0" in preview and "lab-1" in preview
    job = engine.catalog.get_job("collect-results")
    assert job.targets == "tag:lab" and job.steps[0].command.startswith("echo")

    _click(qtbot, window.jobs_page.buttons["run"])
    view = window.run_view
    launched(qtbot, view)  # the start goes to the engine off the GUI thread; the run view opens when it answers
    assert window.stack.currentWidget() is view
    qtbot.waitUntil(lambda: all(view.status_of(n) == "succeeded" for n in ("lab-0", "lab-1")), timeout=30_000)
    assert view.matrix.item(0, 2).text() == "0"
    for name in ("lab-0", "lab-1"):
        view.select_node(name)
        qtbot.waitUntil(lambda: view.log.area.rows == 2, timeout=5000)
        assert view.log.index.line(0) == f"hello from {name}"
    qtbot.waitUntil(lambda: not view.cancel_run_button.isEnabled(), timeout=5_000)  # the view reloads on its timer
    window.refresh_all()
    assert "0 running" in window.counts_label.text()
    # the nodes page shows the run as a green cell
    page = window.nodes_page
    row = [page.model.node_at(r).name for r in range(page.model.rowCount())].index("lab-0")
    assert page.model.index(row, RECENT_COLUMN).data(RECENT_ROLE) == [(view.run_id, "succeeded")]


def test_cancel_long_run_marks_nodes_cancelled(qtbot, window, engine, sshd_nodes, add_node):
    nodes = sshd_nodes(2)
    for i, s in enumerate(nodes):
        add_node(s, name=f"slow-{i}", tags=["slow"])
    window.refresh_all()
    _new_job(qtbot, window, "long", "tag:slow", "echo started; sleep 60")
    window.run_selected_job()  # Ctrl+R path
    view = window.run_view
    qtbot.waitUntil(lambda: all(view.status_of(n) == "running" for n in ("slow-0", "slow-1")), timeout=30_000)
    window.jobs_page.refresh()
    assert window.jobs_page.buttons["stop"].isEnabled()
    _click(qtbot, view.cancel_run_button)
    qtbot.waitUntil(lambda: all(view.status_of(n) == "cancelled" for n in ("slow-0", "slow-1")), timeout=30_000)
    wait_run_final(qtbot, engine, view.run_id)
    assert engine.catalog.get_run(view.run_id).status.value == "cancelled"
    assert "cancelled" in view.matrix.item(0, 5).text()
    qtbot.waitUntil(view.rerun_button.isEnabled, timeout=5_000)  # the view reloads on its own timer


def test_cancel_one_node(qtbot, window, engine, sshd_nodes, add_node):
    nodes = sshd_nodes(2)
    for i, s in enumerate(nodes):
        add_node(s, name=f"c-{i}", tags=["c"])
    window.refresh_all()
    _new_job(qtbot, window, "short-and-long", "tag:c", 'if [ "$LABDECK_NODE" = c-0 ]; then sleep 60; else sleep 2; fi')
    _click(qtbot, window.jobs_page.buttons["run"])
    view = window.run_view
    launched(qtbot, view)
    qtbot.waitUntil(lambda: view.status_of("c-0") == "running", timeout=30_000)
    view.select_node("c-0")
    _click(qtbot, view.cancel_node_button)
    wait_run_final(qtbot, engine, view.run_id)
    qtbot.waitUntil(lambda: view.status_of("c-1") == "succeeded", timeout=5000)
    assert view.status_of("c-0") == "cancelled"


def test_options_dialog_and_rerun_failed(qtbot, window, engine):
    window.show_page(1)
    window.jobs_page.select_job("hello")  # seeded job with a 'greeting' option
    _click(qtbot, window.jobs_page.buttons["run"])
    dialog = window.actions.dialog
    assert dialog.edits["greeting"].text() == "LabDeck is working"
    dialog.edits["greeting"].setText("hi from the test")
    dialog.accept()
    view = window.run_view
    launched(qtbot, view)
    wait_run_final(qtbot, engine, view.run_id)
    qtbot.waitUntil(lambda: view.log.area.rows >= 1, timeout=5000)
    assert "hi from the test" in view.log.index.line(0)
    assert engine.catalog.get_run(view.run_id).options == {"greeting": "hi from the test"}

    _new_job(qtbot, window, "fails", "this-computer", "echo oops; exit 3")
    earlier = view.run_id
    _click(qtbot, window.jobs_page.buttons["run"])
    first = launched(qtbot, view, earlier)
    wait_run_final(qtbot, engine, first)
    qtbot.waitUntil(lambda: view.status_of("this-computer") == "failed", timeout=5000)
    assert view.matrix.item(0, 2).text() == "3"
    _click(qtbot, view.rerun_button)
    launched(qtbot, view, first)
    wait_run_final(qtbot, engine, view.run_id)
    assert engine.catalog.get_run(view.run_id).targets == "this-computer"

    # history: filters and search
    window.show_page(3)
    runs = window.runs_page
    assert runs.model.rowCount() == 3
    runs.status.setCurrentText("failed")
    assert runs.model.rowCount() == 2
    runs.status.setCurrentText("(all)")
    runs.job.setCurrentText("hello")
    assert runs.model.rowCount() == 1
    runs.job.setCurrentText("(all)")
    runs.node.setCurrentText("this-computer")
    assert runs.model.rowCount() == 3
    runs.node.setCurrentText("(all)")
    runs.search.setText("fail")
    assert runs.model.rowCount() == 2
    runs.search.setText("")
    runs.use_since.setChecked(True)
    assert runs.model.rowCount() == 3
    runs.view.doubleClicked.emit(runs.model.index(2, 0))
    assert window.stack.currentWidget() is view and view.run_id == runs.run_id_at(2)
    window.refresh_all()
    assert "2 failed today" in window.counts_label.text()


def test_run_command_on_selected_nodes(qtbot, window, engine):
    page = window.nodes_page
    page.refresh()
    page.select_names(["this-computer"])
    dialog = page.run_command_on_selected()
    dialog.command.setText("echo adhoc-$LABDECK_NODE")
    dialog.accept()
    view = window.run_view
    launched(qtbot, view)
    wait_run_final(qtbot, engine, view.run_id)
    qtbot.waitUntil(lambda: view.log.area.rows == 1, timeout=5000)
    assert view.log.index.line(0) == "adhoc-this-computer"


def test_job_editor_rejects_bad_input(qtbot, window, engine):
    dialog = window.jobs_page.new_job()
    dialog.name.setText("bad")
    dialog.targets.setText("nosuchnode")
    assert "unknown node" in dialog.preview.text()
    dialog.command.setText("true")
    dialog.save()
    assert dialog.message.isVisible() and "unknown node" in dialog.message.text()
    dialog.targets.setText("this-computer")
    dialog.command.setText("")
    dialog.save()
    assert "empty" in dialog.message.text()
    dialog.step_kind.setCurrentText("script")
    dialog.script.setPlainText("#!/bin/sh\necho from-script\n")
    dialog.add_option()
    dialog.options.item(0, 0).setText("size")
    dialog.options.item(0, 1).setText("10")
    with qtbot.waitSignal(dialog.saved, timeout=3000):
        dialog.save()
    job = engine.catalog.get_job("bad")
    assert job.steps[0].kind.value == "script" and "from-script" in job.steps[0].script
    assert job.options[0].name == "size" and job.options[0].default == "10"


@pytest.fixture
def closed_engines_detached_run(data_dir):
    """A detached run started by an engine that has closed (LabDeck quit); made before the
    window's engine, since one catalog has one engine at a time."""
    import time
    from pathlib import Path

    from labdeck.core.models import Job, JobPolicy, Step
    from labdeck.engine.engine import Engine

    before = Engine(data_dir)
    before.catalog.add_job(Job(name="long", targets="this-computer", policy=JobPolicy(launch="detached"),
                               steps=[Step(command="echo begin; sleep 2; echo end")]))
    run = before.start_job("long")
    log_path = Path(before.catalog.node_runs(run.id)[0].log_path)
    end = time.monotonic() + 10
    while not (log_path.exists() and "begin" in log_path.read_text()) and time.monotonic() < end:
        time.sleep(0.05)
    before.close()
    return run, log_path


def test_run_view_shows_a_detached_run_re_attached_after_a_restart(qtbot, closed_engines_detached_run, window,
                                                                  engine):
    """LabDeck quit while a detached run went on; the app that starts next follows it."""
    run, log_path = closed_engines_detached_run
    assert engine.adopt_detached() == [run.id]
    window.open_run(run.id)
    view = window.run_view
    qtbot.waitUntil(lambda: "re-attached" in view.matrix.item(0, 5).text(), timeout=5000)
    wait_run_final(qtbot, engine, run.id)
    qtbot.waitUntil(lambda: view.status_of("this-computer") == "succeeded", timeout=5000)
    assert "(re-attached)" in view.matrix.item(0, 5).text()
    text = log_path.read_text()
    assert text.count("begin\n") == 1 and text.count("end\n") == 1
