"""The Queue page with real runs on this computer: a workflow drawn as a layered graph with
each step's state, an array's progress bar and item table, and the queue's order and reasons,
reordered with the page's buttons."""

from __future__ import annotations

from labdeck.core.models import Capacity
from labdeck.core.status import RunStatus
from labdeck.store import run_queue
from labdeck.store.jobfile import job_from_yaml

LOCAL = "this-computer"


def add_job(engine, text: str) -> None:
    engine.catalog.add_job(job_from_yaml(text), replace=True)


def test_workflow_run_shows_as_a_graph_with_each_steps_state(window, engine, qtbot):
    add_job(engine, f"""
name: diamond
targets: {LOCAL}
workflow:
  - {{name: A, command: echo "x=1" >> "$LABDECK_OUTPUT"}}
  - {{name: B, depends_on: [A], command: "true"}}
  - {{name: C, depends_on: [A], command: "exit 4"}}
  - {{name: D, depends_on: [B, C], command: "true"}}
on_failure: {{name: tidy, command: "true"}}
""")
    run = engine.start_job("diamond")
    assert engine.wait(run.id, 30)
    window.open_run(run.id)
    page = window.queue_page
    assert window.stack.currentWidget() is page
    graph = page.graph
    qtbot.waitUntil(lambda: graph.state_of("tidy") == "succeeded", timeout=5000)
    assert {n: graph.state_of(n) for n in "ABCD"} == {"A": "succeeded", "B": "succeeded", "C": "failed",
                                                     "D": "skipped"}
    boxes = graph.boxes
    assert boxes["B"].left() == boxes["C"].left() > boxes["A"].right()
    assert boxes["D"].left() > boxes["B"].right() and boxes["tidy"].left() > boxes["D"].right()
    assert "failed" in page.title.text() and "C (" in page.title.text()
    assert page.array.table.rowCount() == 4  # A, B, C and the handler ran; D did not
    graph.grab()  # paints without error


def test_array_run_shows_progress_and_items_and_opens_an_items_log(window, engine, qtbot):
    add_job(engine, f"name: sweep\ntargets: {LOCAL}\narray: 6\nslots_per_node: 3\n"
                    "steps: ['echo item $LABDECK_ITEM; [ $LABDECK_ITEM != 4 ]']\n")
    run = engine.start_job("sweep")
    assert engine.wait(run.id, 30)
    window.open_run(run.id)
    page = window.queue_page
    assert page.array.bar.isVisibleTo(page) and not page.graph_area.isVisibleTo(page)
    assert page.array.bar.value() == 6 and page.array.bar.format() == "5 / 6 done, 1 failed"
    table = page.array.table
    rows = {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    assert rows == {"0": "succeeded", "1": "succeeded", "2": "succeeded", "3": "succeeded", "4": "failed",
                    "5": "succeeded"}
    row_of_4 = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "4")
    assert table.item(row_of_4, 6).text().startswith("item 4 — step 1 exited with code 1")
    assert page.rerun_button.isEnabled()
    page.rerun_button.click()  # item 4 again, alone: it fails again (the engine answers off the GUI thread)
    qtbot.waitUntil(lambda: page.detail_run_id != run.id, timeout=10_000)
    again = page.detail_run_id
    assert engine.wait(again, 30)
    qtbot.waitUntil(lambda: (page.refresh(), page.array.bar.format() == "0 / 1 done, 1 failed")[1], timeout=5000)
    assert [page.array.table.item(r, 0).text() for r in range(page.array.table.rowCount())] == ["4"]
    window.open_run(run.id)
    table.cellDoubleClicked.emit(row_of_4, 0)
    assert window.stack.currentWidget() is window.run_view
    task_run = next(r for r, _ in run_queue.task_runs(engine.catalog, run.id) if r.task == "4")
    assert window.run_view.run_id == task_run.id
    assert window.run_view.status_of(LOCAL) == "failed"


def test_queue_lists_waiting_runs_with_the_reason_and_reorders_them(window, engine, qtbot, tmp_path):
    node = engine.catalog.get_node(LOCAL)
    node.capacity = Capacity(cpus=1)
    engine.catalog.update_node(node)
    release = tmp_path / "release"
    for name in ("hold", "first", "second"):
        wait = f"while [ ! -e {release} ]; do sleep 0.05; done; " if name == "hold" else ""
        add_job(engine, f"name: {name}\ntargets: {LOCAL}\nresources: {{cpus: 1}}\nsteps: ['{wait}true']\n")
    hold = engine.start_job("hold")
    qtbot.waitUntil(lambda: engine.catalog.get_run(hold.id).status is RunStatus.RUNNING, timeout=10000)
    first, second = engine.start_job("first"), engine.start_job("second")
    window.show_page(window.stack.indexOf(window.queue_page))
    page = window.queue_page

    def column(c):
        return [page.table.item(r, c).text() for r in range(page.table.rowCount())]

    kept = f"{LOCAL} is kept for run {first.id}, which is ahead in the queue"
    qtbot.waitUntil(lambda: (page.refresh(), column(1) == [str(hold.id), str(first.id), str(second.id)]
                             and "needs 1 CPU; none free" in column(6)[1] and column(6)[2] == kept)[1],
                    timeout=10000)
    assert column(4) == ["running", "queued", "queued"]
    page.select_run(second.id)
    assert page.buttons["up"].isEnabled()
    page.buttons["up"].click()
    assert column(1) == [str(hold.id), str(second.id), str(first.id)]
    page.select_run(first.id)
    page.priority.setValue(9)
    page.buttons["priority"].click()
    assert column(1)[0] == str(first.id) and column(3)[0] == "9"
    assert [e["run_id"] for e in run_queue.entries(engine.catalog)][0] == first.id
    release.touch()
    for run in (hold, first, second):
        assert engine.wait(run.id, 30)
    page.refresh()
    assert page.table.rowCount() == 0


def test_editing_a_workflow_job_in_the_job_editor_keeps_its_workflow_and_policy(window, engine, qtbot):
    add_job(engine, f"""
name: kept
targets: {LOCAL}
priority: 4
resources: {{cpus: 1}}
policy: {{overlap: queue, max_runtime_s: 600, notify_on: [failed, succeeded]}}
workflow:
  - {{name: A, command: "true"}}
  - {{name: B, depends_on: [A], command: "true"}}
""")
    before = engine.catalog.get_job("kept")
    node = engine.catalog.get_node(LOCAL)
    node.capacity = Capacity(cpus=2)
    engine.catalog.update_node(node)
    window.show_page(1)
    window.refresh_all()
    window.jobs_page.select_job("kept")
    dialog = window.jobs_page.edit_job()
    dialog.description.setText("now with a description")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    after = engine.catalog.get_job("kept")
    assert after.description == "now with a description"
    assert after.plan == before.plan and after.policy == before.policy
    run = engine.start_job("kept")
    assert engine.wait(run.id, 30)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED


def test_queue_page_over_the_engine_process_follows_a_workflow(qtbot, data_dir, tmp_path):
    """The app's own set-up: the window here, the engine (and its run queue) in a child process."""
    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow

    engine = EngineProcess(data_dir)
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    window.show()
    gate = tmp_path / "go"
    try:
        add_job(engine, f"""
name: remote-flow
targets: {LOCAL}
workflow:
  - {{name: first, command: 'while [ ! -e {gate} ]; do sleep 0.05; done'}}
  - {{name: skipped, depends_on: [first], when: "${{steps.first.exit_code}} != 0", command: "true"}}
  - {{name: last, depends_on: [skipped], when: "${{steps.skipped.status}} == 'skipped'", command: "true"}}
""")
        run = engine.start_job("remote-flow")
        window.open_run(run.id)
        page, graph = window.queue_page, window.queue_page.graph
        qtbot.waitUntil(lambda: (page.refresh(), graph.state_of("first") == "running")[1], timeout=10000)
        gate.touch()
        assert engine.wait(run.id, 30)
        qtbot.waitUntil(lambda: (page.refresh(), graph.state_of("last") == "succeeded")[1], timeout=10000)
        assert graph.state_of("skipped") == "skipped"
        assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    finally:
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close()


def test_a_run_waiting_for_another_run_is_shown_with_what_it_waits_for(window, engine):
    from labdeck.core.models import Trigger
    first = engine.start_command("sleep 30", "this-computer")
    wait = engine.after.start_after("hello", {}, Trigger.MANUAL, None, first.id, require_ok=True)
    page = window.queue_page
    window.show_page(window.stack.indexOf(page))
    page.refresh()
    assert page.waits.isVisible() and f"hello — waiting for run {first.id} to succeed" in page.waits.text()
    engine.after.cancel(wait.id)
    engine.cancel(first.id)
    page.refresh()
    assert not page.waits.isVisible()
