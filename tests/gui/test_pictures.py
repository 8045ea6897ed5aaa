"""Issue 18's pictures, tested for what they show: the nodes dashboard (bars and sparklines
from stored probes), a node's day, a run's timeline, a job's trend, per-node progress from a
real local run, the first-start empty states and tour, and readable status colours in dark mode."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyleOptionViewItem

from labdeck.core.models import Job, JobPolicy, Node, Step
from labdeck.gui.models.node_model import COLUMNS, METRIC_ROLE

from .conftest import wait_run_final

CPU, MEM, GPU = COLUMNS.index("CPU"), COLUMNS.index("Memory"), COLUMNS.index("GPU")
PROBE = {"cpus": 16, "cpu_pct": 37, "memory_mb": 64000, "memory_free_mb": 16000, "disk_total_mb": 1000,
         "disk_free_mb": 500, "gpus": 2, "gpu_util": "91;12"}


def _row(model, name):
    return next(r for r in range(model.rowCount()) if model.node_at(r).name == name)


def _probe_history(engine, name, cpus=(10, 20, 30, 40, 37)):
    now = time.time()
    for i, cpu in enumerate(cpus):
        engine.catalog.mark_node_seen(name, now - (len(cpus) - i) * 60, probe=dict(PROBE, cpu_pct=cpu))


def _paint(view, index, width=200, height=24) -> QImage:
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, width, height)
    option.palette = view.palette()
    painter = QPainter(image)
    view.itemDelegateForColumn(index.column()).paint(painter, option, index)
    painter.end()
    return image


def test_the_nodes_grid_shows_each_resource_as_a_bar_with_the_stored_hour(qtbot, window, engine):
    engine.catalog.add_node(Node(name="gpu-01", transport="local", tags=["gpu"]))
    _probe_history(engine, "gpu-01")
    window.refresh_all()
    model = window.nodes_page.model
    row = _row(model, "gpu-01")
    cpu = model.index(row, CPU).data(METRIC_ROLE)
    assert cpu.now == (37.0,) and cpu.history == (10.0, 20.0, 30.0, 40.0, 37.0)   # the stored points
    assert model.index(row, MEM).data(METRIC_ROLE).now == (75.0,)
    assert model.index(row, GPU).data(METRIC_ROLE).now == (91.0, 12.0)             # one bar per GPU
    assert "37% in use" in model.index(row, CPU).data(3)                          # the tooltip says it
    from labdeck.gui.widgets.resource_gauge import BAR_W
    image = _paint(window.nodes_page.view, model.index(row, CPU))
    green = QColor("#43a047")
    filled = [x for x in range(0, BAR_W + 10) if image.pixelColor(x + 4, 12) == green]
    assert filled and 0.30 < len(filled) / BAR_W < 0.45      # a bar 37 % long, in the calm colour
    gpu = _paint(window.nodes_page.view, model.index(row, GPU))
    assert gpu.pixelColor(4 + int(BAR_W * 0.8), 7) == QColor("#e53935")   # the busy GPU's bar is red at 91 %
    assert gpu.pixelColor(4 + int(BAR_W * 0.8), 18) != QColor("#e53935")  # the idle one's (12 %) is not


def test_a_probe_from_another_process_reaches_the_dashboard_by_itself(qtbot, window, engine):
    from labdeck.store.catalog import Catalog
    engine.catalog.add_node(Node(name="lab-07", transport="local"))
    window.refresh_all()
    other = Catalog(engine.catalog.path)          # as the engine process, or `labdeck node test`, would
    other.mark_node_seen("lab-07", time.time(), probe=dict(PROBE, cpu_pct=64))
    other.close()
    model = window.nodes_page.model
    qtbot.waitUntil(lambda: (model.index(_row(model, "lab-07"), CPU).data(METRIC_ROLE) or
                             type("g", (), {"now": ()})).now == (64.0,), timeout=5000)


def test_the_node_panel_charts_the_last_day_and_lists_recent_runs(qtbot, window, engine):
    engine.catalog.add_node(Node(name="gpu-02", transport="local"))
    _probe_history(engine, "gpu-02", cpus=(5, 50, 95))
    run = engine.start_command("echo hi", "this-computer")
    wait_run_final(qtbot, engine, run.id)
    page = window.nodes_page
    window.refresh_all()
    page.select_names(["gpu-02"])
    qtbot.waitUntil(lambda: page.panel.chart.built, timeout=10_000)
    xs, ys = page.panel.chart.curves["CPU"].getData()
    assert list(ys) == [5.0, 50.0, 95.0] and len(xs) == 3
    assert set(page.panel.chart.curves) == {"CPU", "Memory", "Disk", "GPU 0", "GPU 1"}
    page.select_names(["this-computer"])
    assert page.panel.runs.item(0, 0).text() == f"#{run.id}"
    opened = []
    window.nodes_page.openRun.connect(opened.append)
    page.panel._open(page.panel.runs.model().index(0, 0))
    assert opened == [run.id]


def test_the_run_timeline_has_one_bar_per_node_run_in_its_status_colour_and_opens_logs(qtbot, window, engine):
    engine.catalog.add_node(Node(name="local-b", transport="local"))
    engine.catalog.add_job(Job(name="mixed", targets="this-computer,local-b",
                               steps=[Step(command='[ "$LABDECK_NODE" = local-b ] && exit 3; echo fine')]))
    run = engine.start_job("mixed")
    wait_run_final(qtbot, engine, run.id)
    window.open_run(run.id)
    view = window.run_view
    view.reload()
    view.tabs.setCurrentWidget(view.timeline)
    qtbot.waitUntil(lambda: view.timeline.built and len(view.timeline.bars) == 2, timeout=10_000)
    bars = {b.node: b for b in view.timeline.bars}
    assert bars["this-computer"].color == "#43a047" and bars["local-b"].color == "#e53935"
    brushes = view.timeline.item.opts["brushes"]
    assert sorted(b.color().name() for b in brushes) == ["#43a047", "#e53935"]   # what is drawn
    bar = bars["local-b"]
    view.select_node("this-computer")
    assert view.timeline.bar_at((bar.start + bar.end) / 2, bar.row) is bar
    view.timeline.nodeClicked.emit(view.timeline.bar_at((bar.start + bar.end) / 2, bar.row).node)
    assert view.selected_node() == "local-b" and view.log.path is not None and "local-b" in str(view.log.path)


def test_a_retried_node_run_is_drawn_as_one_segment_per_attempt(qtbot, window, engine):
    engine.catalog.add_job(Job(name="flaky", targets="this-computer", steps=[Step(command="exit 1")],
                               policy=JobPolicy(retries=1, retry_delay_s=0.5)))
    run = engine.start_job("flaky")
    wait_run_final(qtbot, engine, run.id)
    window.open_run(run.id)
    view = window.run_view
    view.reload()
    view.tabs.setCurrentWidget(view.timeline)
    qtbot.waitUntil(lambda: view.timeline.built and len(view.timeline.bars) == 2, timeout=10_000)
    first, second = view.timeline.bars
    assert (first.attempt, first.status, second.attempt, second.status) == (1, "failed", 2, "failed")
    assert first.row == second.row == 0
    assert second.start - first.start >= 0.5 and second.start > first.end   # the retry delay lies between them
    assert [t.textItem.toPlainText() for t in view.timeline.labels] == ["attempt 2"]
    assert len(view.timeline.item.opts["x0"]) == 2     # both are drawn
    view.timeline.click(view.timeline.bar_at((first.start + first.end) / 2, 0))
    assert view.selected_node() == "this-computer" and view.log.path is not None


def test_a_max_runtime_restart_shows_the_chain_with_a_marker_and_each_bar_opens_its_own_log(qtbot, window, engine):
    engine.catalog.add_job(Job(name="hangs", targets="this-computer", steps=[Step(command="sleep 60")],
                               policy=JobPolicy(max_runtime_s=0.8, max_restarts=1)))
    first = engine.start_job("hangs")

    def restarted():
        runs = [r for r in engine.catalog.list_runs("hangs") if r.status.value not in ("running", "pending")]
        return len(runs) == 2 and runs
    qtbot.waitUntil(lambda: bool(restarted()), timeout=30_000)
    second = max(restarted(), key=lambda r: r.id)
    assert second.parent_run_id == first.id
    window.open_run(second.id)
    view = window.run_view
    view.reload()
    view.tabs.setCurrentWidget(view.timeline)
    timeline = view.timeline
    qtbot.waitUntil(lambda: timeline.built and len(timeline.bars) == 2, timeout=10_000)
    old, new = sorted(timeline.bars, key=lambda b: b.start)
    assert timeline.names == ["this-computer"] and old.row == new.row == 0
    assert (old.status, old.of_run, new.status, new.of_run) == ("cancelled", first.id, "cancelled", None)
    assert [m.run_id for m in timeline.markers] == [second.id]
    assert old.end <= timeline.markers[0].at <= new.start + 0.01
    label = [t.textItem.toPlainText() for t in timeline.labels]
    assert label == [f"run #{second.id} · restart 1: max runtime of 0.8 s exceeded"]
    assert len(timeline.lines) == 1                      # the dashed marker line is drawn
    timeline.click(timeline.bar_at((new.start + new.end) / 2, 0))     # this run's bar: its log
    assert view.run_id == second.id and str(second.id) in str(view.log.path)
    timeline.click(timeline.bar_at((old.start + old.end) / 2, 0))     # the first run's bar: that run
    assert view.run_id == first.id
    first_log = engine.catalog.node_runs(first.id)[0].log_path
    assert view.selected_node() == "this-computer" and str(view.log.path) == first_log
    assert view.tabs.currentWidget() is timeline and len(timeline.bars) == 2   # still the whole chain


def test_the_job_trend_marks_failures_and_a_click_filters_the_history(qtbot, window, engine):
    engine.catalog.add_job(Job(name="trendy", targets="this-computer",
                               steps=[Step(command='[ -f "$HOME/.nope-${LABDECK_RUN_ID}" ] || exit ${X:-0}')]))
    runs = []
    for code in ("0", "4", "0"):
        engine.catalog.add_job(Job(name="trendy", targets="this-computer", steps=[Step(command=f"exit {code}")]),
                               replace=True)
        run = engine.start_job("trendy")
        wait_run_final(qtbot, engine, run.id)
        runs.append(run.id)
    window.show_page(1)
    window.refresh_all()
    page = window.jobs_page
    page.select_job("trendy")
    qtbot.waitUntil(lambda: page.trend.built, timeout=10_000)
    assert [p["id"] for p in page.trend.points] == runs
    assert [p["id"] for p in page.trend.failed_points()] == [runs[1]]
    spots = page.trend.scatter.points()
    assert [s.symbol() for s in spots] == ["o", "x", "o"]                   # the failure is a cross
    page.trend.click_point(page.trend.failed_points()[0])
    history = window.runs_page
    assert window.stack.currentWidget() is history
    assert history.job.currentText() == "trendy" and history.status.currentText() == "failed"
    qtbot.waitUntil(lambda: history.model.rowCount() == 1)
    assert history.model.run_id(0) == runs[1]


def test_the_progress_column_shows_what_a_real_run_printed(qtbot, window, engine):
    engine.catalog.add_job(Job(name="progressing", targets="this-computer",
                               steps=[Step(command='echo start; echo "::progress 17"; echo working; '
                                                   'echo "::progress 42"; echo "almost there"; sleep 1')]))
    run = engine.start_job("progressing")
    window.open_run(run.id)
    view = window.run_view
    qtbot.waitUntil(lambda: (view.progress_of("this-computer") or ("",))[0] == "42%", timeout=15_000)
    progress, lines, last = view.progress_of("this-computer")
    assert last == "almost there" and int(lines) >= 5
    node_run = engine.catalog.node_runs(run.id)[0]
    assert window.bridge.live_progress(node_run.id)[2] == 42.0   # counted from the stream, not re-read
    from labdeck.gui.models.transfer_model import PERCENT_ROLE
    assert view.matrix.item(0, 6).data(PERCENT_ROLE) == 42
    wait_run_final(qtbot, engine, run.id)


def test_first_start_empty_states_and_a_three_step_tour(qtbot, window, engine):
    window.refresh_all()
    assert window.nodes_page.empty.isVisible() and "Add your first node" in window.nodes_page.empty.heading.text()
    window.show_page(1)
    assert window.jobs_page.empty.isVisible()
    window.jobs_page.empty.buttons["Run the sample job"].click()
    window.actions.dialog.accept()                      # its one option, as offered
    qtbot.waitUntil(lambda: bool(engine.catalog.list_runs("hello")), timeout=10_000)
    wait_run_final(qtbot, engine, engine.catalog.list_runs("hello")[0].id)
    window.refresh_all()
    window.show_page(1)
    assert not window.jobs_page.empty.isVisible()
    tour = window.maybe_start_tour()
    pages = []
    for _ in range(3):
        pages.append(window.stack.currentIndex())
        tour.next.click()
    assert pages == [0, 1, 2] and not tour.isVisible()
    assert window.maybe_start_tour() is None            # once per data folder


def test_status_colours_stay_readable_in_dark_mode(qtbot, window):
    from PySide6.QtGui import QGuiApplication

    from labdeck.gui.status_style import STATUS_COLORS, contrast, status_color
    app = QGuiApplication.instance()
    light = app.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    app.setPalette(dark)
    trend = window.jobs_page.trend
    trend.ensure_built()
    try:
        for status in STATUS_COLORS:
            assert contrast(status_color(status), QColor("#1e1e1e")) >= 3.0, status
        qtbot.waitUntil(lambda: trend.plot.backgroundBrush().color().name() == "#1e1e1e")  # charts follow
    finally:
        app.setPalette(light)
    assert status_color("failed").name() == "#e53935"   # light mode keeps the house colours


def test_on_a_1024_wide_window_the_resource_bars_stay_in_view(qtbot, window, engine):
    engine.catalog.add_node(Node(name="gpu-03", transport="local"))
    _probe_history(engine, "gpu-03")
    window.resize(1008, 568)
    window.show_page(0)
    window.refresh_all()
    view = window.nodes_page.view
    qtbot.waitUntil(lambda: view.isColumnHidden(COLUMNS.index("OS")))
    disk = view.visualRect(view.model().index(0, COLUMNS.index("Disk")))
    assert disk.right() <= view.viewport().width()          # no scrolling to see the disk bar
    assert "local" in view.model().index(_row(view.model(), "gpu-03"), 0).data(3)   # the transport, in the tooltip


def test_an_array_shows_its_items_per_node_over_time(qtbot, window, engine):
    from labdeck.store.jobfile import job_from_yaml
    engine.catalog.add_node(Node(name="local-c", transport="local"))
    engine.catalog.add_job(job_from_yaml(
        "name: sweep\ntargets: this-computer,local-c\narray: 6\nslots_per_node: 2\n"
        "placement: any\nsteps: ['echo item $LABDECK_ITEM; [ $LABDECK_ITEM != 4 ]']\n"))
    run = engine.start_job("sweep")
    assert engine.wait(run.id, 60)
    window.open_run(run.id)
    panel = window.queue_page.array
    panel.tabs.setCurrentWidget(panel.timeline)
    timeline = panel.timeline
    qtbot.waitUntil(lambda: timeline.built and len(timeline.bars) == 6, timeout=10_000)
    assert set(timeline.names) <= {"this-computer", "local-c"}
    assert all(b.row == timeline.names.index(b.node) for b in timeline.bars)   # each item on its node's row
    failed = [b for b in timeline.bars if b.status == "failed"]
    assert len(failed) == 1 and failed[0].color == "#e53935"
    opened = []
    timeline.taskRunClicked.connect(opened.append)
    timeline.click(failed[0])
    assert opened == [failed[0].run_id]


def test_a_run_from_before_the_window_opened_gets_its_progress_from_the_log(qtbot, window, engine):
    engine.catalog.add_job(Job(name="earlier", targets="this-computer",
                               steps=[Step(command='echo a; echo "LABDECK_PROGRESS=30"; echo "last words"')]))
    run = engine.start_job("earlier")
    wait_run_final(qtbot, engine, run.id)
    view = window.run_view
    view.bridge = None                     # as a window that was not listening when the run went
    window.open_run(run.id)
    qtbot.waitUntil(lambda: (view.progress_of("this-computer") or ("",))[0] == "30%", timeout=10_000)
    assert view.progress_of("this-computer")[1:] == ("3", "last words")


def test_a_growing_timeline_keeps_its_time_axis_until_the_bars_reach_its_end(qtbot):
    """A running run is redrawn every few seconds while its nodes stream; re-laying the time axis
    each time cost the GUI thread tens of ms under load (bench_gui --stalls). The axis keeps room
    ahead of the growing bars and moves only when they reach it; a finished run fits exactly."""
    from labdeck.gui.widgets.run_timeline import RunTimeline, TimelineBar
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.show()
    qtbot.waitUntil(lambda: timeline.built, timeout=10_000)

    def grow(end, status="running"):
        timeline.set_bars(["n1", "n2"], [TimelineBar("n1", 0, 100.0, end, status, 1, "#1e88e5"),
                                         TimelineBar("n2", 1, 101.0, end, status, 1, "#1e88e5")])
        return timeline.plot.getPlotItem().vb.viewRange()[0]

    first = grow(110.0)
    assert first[1] > 10 * 1.2                      # room ahead of the bars
    assert grow(112.0) == first and grow(115.0) == first   # redrawn, the axis left alone
    later = grow(100.0 + first[1] + 1)              # the bars reached the end: the axis moves on
    assert later[1] > first[1]
    done = grow(130.0, "succeeded")
    assert done[1] == pytest.approx(30.0 + max(0.5, 30.0 * 0.03))   # a finished run fits exactly


def test_the_last_seen_cell_says_how_long_the_node_has_been_up(qtbot, window, engine):
    engine.catalog.add_node(Node(name="win-07", transport="local"))
    engine.catalog.mark_node_seen("win-07", time.time(), probe=dict(PROBE, uptime_s=4 * 86400 + 3 * 3600 + 120))
    window.refresh_all()
    model = window.nodes_page.model
    seen = COLUMNS.index("Last seen")
    assert model.index(_row(model, "win-07"), seen).data(3) == "up 4 d 3 h at the last probe"


def test_a_resumed_run_is_marked_as_resumed_on_the_chain(qtbot):
    """A resume (LabDeck stopped during a workflow or array run) is drawn like a restart, with
    its own reason; bars of the run not shown say which run they belong to."""
    from labdeck.core.models import NodeRun, Run, Trigger
    from labdeck.core.status import NodeRunStatus, RunStatus
    from labdeck.gui.widgets.run_timeline import chain_bars
    stopped = Run(7, "nightly", Trigger.SCHEDULE, RunStatus.INTERRUPTED, {}, "n1", 100.0, 150.0)
    resumed = Run(9, "nightly", Trigger.RESUME, RunStatus.SUCCEEDED, {}, "n1", 400.0, 460.0, parent_run_id=7)
    chain = [(stopped, [NodeRun(70, 7, "n1", NodeRunStatus.INTERRUPTED, started_at=100.0, finished_at=150.0)]),
             (resumed, [NodeRun(90, 9, "n1", NodeRunStatus.SUCCEEDED, started_at=401.0, finished_at=460.0)])]
    names, bars, markers = chain_bars(chain, shown=9)
    assert names == ["n1"] and [(b.of_run, b.status) for b in bars] == [(7, "interrupted"), (None, "succeeded")]
    assert [(m.run_id, m.at, m.text) for m in markers] == [(9, 401.0, "resumed: LabDeck had stopped")]
