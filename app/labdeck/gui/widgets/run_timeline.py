"""RunTimeline: one run as a picture — a bar per node run on a time axis (time since the run's
first start), coloured by its status; a bar still running grows to "now"; a node run on its second (or later) attempt is
labelled with it and outlined, so retries stand out. Clicking a bar emits ``nodeClicked``
(the run view then shows that node's log)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor

from ..status_style import fmt_time, status_color, status_label
from .charts import ChartHost


@dataclass(frozen=True)
class TimelineBar:
    node: str
    row: int           # from the top, 0 first
    start: float
    end: float
    status: str
    attempt: int
    color: str         # "#rrggbb"
    run_id: int | None = None   # an array item's task run (the array view opens it on a click)


def timeline_bars(node_runs, now: float | None = None) -> list[TimelineBar]:
    """The bars for these node runs (the ones that have started), in the given order."""
    now = now or time.time()
    bars = []
    for row, nr in enumerate(node_runs):
        if nr.started_at is None:
            continue
        status = nr.status.value
        end = nr.finished_at if nr.finished_at is not None else now
        bars.append(TimelineBar(nr.node_name, row, nr.started_at, max(end, nr.started_at + 0.2), status,
                                nr.attempt, status_color(status).name()))
    return bars


def array_bars(tasks, now: float | None = None) -> tuple[list[str], list[TimelineBar]]:
    """An array's items per node over time: one row per node, a bar per item (task run) that
    started on it. ``tasks``: store/run_queue.task_runs rows (run, node-run fields)."""
    now = now or time.time()
    names: list[str] = []
    bars = []
    for run, nr in tasks:
        node, started = nr.get("node_name"), nr.get("started_at")
        if not node or started is None:
            continue
        if node not in names:
            names.append(node)
        status = nr.get("status") or str(run.status)
        end = nr.get("finished_at") or now
        bars.append(TimelineBar(node, names.index(node), started, max(end, started + 0.2), status,
                                nr.get("attempt") or 1, status_color(status).name(), run.id))
    return names, bars


def elapsed_text(seconds: float) -> str:
    """Axis labels: 0 s, 45 s, 2 min, 1 h 30, 2 d 4 h."""
    s = int(round(seconds))
    if s < 0:
        return ""
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min" + (f" {s % 60:02d}" if s % 60 else "")
    if s < 172800:
        return f"{s // 3600} h" + (f" {s % 3600 // 60:02d}" if s % 3600 // 60 else "")
    return f"{s // 86400} d {s % 86400 // 3600} h"


def elapsed_axis(pg):
    class ElapsedAxis(pg.AxisItem):
        def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph naming
            if spacing < 1:   # ticks closer than a second: tenths, or they would all read "0 s"
                return [f"{v:.1f} s" if v >= 0 else "" for v in values]
            return [elapsed_text(v) for v in values]
    return ElapsedAxis(orientation="bottom")


class RunTimeline(ChartHost):
    nodeClicked = Signal(str)
    taskRunClicked = Signal(int)   # an array item's bar (set_bars with run ids)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.node_runs: list = []
        self.bars: list[TimelineBar] = []
        self.names: list[str] = []

    def set_node_runs(self, node_runs) -> None:
        self.node_runs = list(node_runs)
        self.set_bars([nr.node_name for nr in self.node_runs], timeline_bars(self.node_runs))

    def set_bars(self, names: list[str], bars: list[TimelineBar]) -> None:
        if (list(names), list(bars)) == (self.names, self.bars) and self.built:
            return   # nothing moved (a finished run shown again): no redraw
        self.names, self.bars = list(names), list(bars)
        self.update_chart()

    def build(self, pg) -> None:
        self.pg = pg
        self.plot = self.plot_widget(pg, axisItems={"bottom": elapsed_axis(pg)})
        self.plot.getPlotItem().invertY(True)
        self.plot.getPlotItem().showGrid(x=True, y=False, alpha=0.25)
        self.plot.setMouseEnabled(x=True, y=False)
        self.item = None
        self.origin = 0.0
        self.labels: list = []
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def render(self) -> None:
        pg, plot = self.pg, self.plot
        if self.item is not None:
            plot.removeItem(self.item)
            self.item = None
        for label in self.labels:
            plot.removeItem(label)
        self.labels = []
        rows = len(self.names)
        plot.getPlotItem().getAxis("left").setTicks([[(i, n) for i, n in enumerate(self.names)]])
        if not self.bars:
            return
        self.origin = min(b.start for b in self.bars)
        plot.getPlotItem().setLabel("bottom", f"since {fmt_time(self.origin)}")
        pens = [pg.mkPen(QColor("#212121"), width=2) if b.attempt > 1 else pg.mkPen(QColor(b.color).darker(130))
                for b in self.bars]
        self.item = pg.BarGraphItem(x0=[b.start - self.origin for b in self.bars], x1=[b.end - self.origin for b in self.bars],
                                    y=[b.row for b in self.bars], height=0.6,
                                    brushes=[pg.mkBrush(b.color) for b in self.bars], pens=pens)
        plot.addItem(self.item)
        for b in self.bars:
            if b.attempt > 1:
                text = pg.TextItem(f"attempt {b.attempt}", anchor=(0, 0.5), color=QColor("#212121"))
                text.setPos(b.start - self.origin, b.row)
                plot.addItem(text)
                self.labels.append(text)
        end = max(b.end for b in self.bars) - self.origin
        pad = max(0.5, end * 0.03)
        plot.setXRange(-pad, end + pad, padding=0)
        plot.setYRange(-0.6, rows - 0.4, padding=0)

    def tooltip_for(self, bar: TimelineBar) -> str:
        return f"{bar.node}: {status_label(bar.status)}, {bar.end - bar.start:.0f} s, attempt {bar.attempt}"

    def bar_at(self, x: float, y: float) -> TimelineBar | None:
        """The bar at this time (epoch seconds) and row (the latest, where items follow each other)."""
        for b in reversed(self.bars):
            if b.start <= x <= b.end and abs(y - b.row) <= 0.3:
                return b
        return None

    def _clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        bar = self.bar_at(point.x() + self.origin, point.y())
        if bar is not None:
            self.click(bar)

    def click(self, bar: TimelineBar) -> None:
        if bar.run_id is not None:
            self.taskRunClicked.emit(bar.run_id)
        else:
            self.nodeClicked.emit(bar.node)
