"""Dark mode as a user sees it: the system switches to dark (Qt sets the dark palette on the
application) while the window is open, and every part must follow — the page list (a style
sheet), the run timeline's labels and outlines, the log's notes and search match, the workflow
graph's boxes. Each of these stayed in light-mode colours before (seen in screenshots under Xvfb)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from labdeck.core.job_plan import FlowStep
from labdeck.core.models import Job, JobPolicy, Step
from labdeck.gui.status_style import contrast
from labdeck.gui.widgets.workflow_graph import BOX_H, MARGIN, WorkflowGraph
from tests.support.palettes import windows_dark_palette

from .conftest import wait_run_final


def _dark(qtbot):
    app = QApplication.instance()
    light = app.palette()
    app.setPalette(windows_dark_palette())
    return app, light


def test_the_page_list_timeline_and_log_follow_a_switch_to_dark_mode(qtbot, window, engine):
    engine.catalog.add_job(Job(name="flaky", targets="this-computer", steps=[Step(command="exit 1")],
                               policy=JobPolicy(retries=1, retry_delay_s=0)))
    run = engine.start_job("flaky")
    wait_run_final(qtbot, engine, run.id)
    window.show()
    window.open_run(run.id)
    view = window.run_view
    view.reload()
    view.tabs.setCurrentWidget(view.timeline)
    timeline = view.timeline
    qtbot.waitUntil(lambda: timeline.built and bool(timeline.labels), timeout=10_000)
    assert timeline.labels[0].textItem.defaultTextColor().lightnessF() < 0.5     # light mode: dark ink
    app, light = _dark(qtbot)
    try:
        base = app.palette().base().color()
        qtbot.waitUntil(lambda: timeline.labels[0].textItem.defaultTextColor().lightnessF() > 0.5, timeout=5000)
        assert contrast(timeline.item.opts["pens"][1].color(), base) >= 4.5      # the retried attempt's outline
        image = window.sidebar.grab().toImage()
        below_items = image.pixelColor(image.width() // 2, image.height() - 4)
        assert below_items.lightnessF() < 0.5, below_items.name()                  # not a white strip
        area = view.log.area
        area.grab()                                                                # paints with the new palette
        text = app.palette().text().color()
        assert contrast(area._notes[True], base) >= 4.5 and contrast(area._notes[False], base) >= 4.5
        assert contrast(area._match[0], text) >= 4.5                               # a search match stays legible
    finally:
        app.setPalette(light)


def test_workflow_boxes_are_dark_with_light_text_in_dark_mode(qtbot):
    graph = WorkflowGraph()
    qtbot.addWidget(graph)
    graph.set_workflow([FlowStep("prepare", [Step(command="true")])], None)
    graph.resize(graph.sizeHint())
    inside = (MARGIN + 4, MARGIN + BOX_H // 2)      # left of the centred text
    assert graph.grab().toImage().pixelColor(*inside).lightnessF() > 0.5        # light mode: a pale card
    app, light = _dark(qtbot)
    try:
        graph.setPalette(app.palette())
        fill = graph.grab().toImage().pixelColor(*inside)
        assert fill.lightnessF() < 0.35, fill.name()
        assert contrast(fill, QColor("#ffffff")) >= 4.5
    finally:
        app.setPalette(light)
