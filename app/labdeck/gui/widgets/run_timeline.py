"""RunTimeline: one run as a picture — a bar per node run on a time axis (time since the run's
first start), coloured by its status; a bar still running grows to "now". A retried node run is
one segment per attempt (each in the colour it ended with, the gap between them the retry
delay), later attempts labelled and outlined. A run restarted for its max runtime (or resumed
after LabDeck stopped) is drawn with the whole chain: each run's bars after a marker saying
why it started again. Clicking a bar emits ``nodeClicked`` (a node of the run shown; the run view
then shows that node's log) or ``nodeRunClicked`` (run id, node) for a bar of another run of the
chain."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor

from ..status_style import fmt_time, status_color
from .charts import ChartHost, theme_colors


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
    of_run: int | None = None   # the run of a restart chain this bar belongs to (None: the run shown)


@dataclass(frozen=True)
class RestartMarker:
    at: float          # when the run started again (epoch seconds)
    run_id: int
    text: str          # why, in a few words


def _color_names(statuses) -> dict[str, str]:
    """status -> "#rrggbb" on the palette as it is now, each status asked once (status_color asks
    Qt for the palette: a call that costs the GUI thread while nodes stream)."""
    return {status: status_color(status).name() for status in set(statuses)}


def _bar(colors: dict, node: str, row: int, start: float, end: float, status: str, attempt: int,
         of_run=None) -> TimelineBar:
    return TimelineBar(node, row, start, max(end, start + 0.2), status, attempt, colors[status], of_run=of_run)


def timeline_bars(node_runs, now: float | None = None, attempts: dict | None = None,
                  rows: dict[str, int] | None = None, of_run: int | None = None) -> list[TimelineBar]:
    """The bars for these node runs (the ones that have started), in the given order (or on the
    ``rows`` given per node name). ``attempts``: node run id -> its recorded attempts
    (store/attempts.py); a node run with more than one is drawn as one segment per attempt."""
    now = now or time.time()
    attempts = attempts or {}
    colors = _color_names([nr.status.value for nr in node_runs] +
                          [a.status or "failed" for tries in attempts.values() for a in tries])
    bars = []
    for index, nr in enumerate(node_runs):
        if nr.started_at is None:
            continue
        row = rows[nr.node_name] if rows is not None else index
        status = nr.status.value
        end = nr.finished_at if nr.finished_at is not None else now
        tries = [a for a in attempts.get(nr.id, ()) if a.attempt < nr.attempt and a.finished_at is not None]
        last_start = nr.started_at
        for a in tries:   # the attempts before the last one, each as it ended
            bars.append(_bar(colors, nr.node_name, row, a.started_at, a.finished_at, a.status or "failed", a.attempt,
                             of_run))
        last = next((a for a in attempts.get(nr.id, ()) if a.attempt == nr.attempt), None)
        if tries and last is not None:
            last_start = last.started_at
        bars.append(_bar(colors, nr.node_name, row, last_start, end, status, nr.attempt, of_run))
    return bars


def restart_reason(run, previous=None) -> str:
    """A few words on why this run of a chain started: a max-runtime restart (its number, and the
    limit from the note of the run it replaced), a resume, or else its note or trigger."""
    if run.restarts:
        match = re.search(r"max runtime (?:of )?([^;)]*)", (previous.note if previous else "") or run.note or "")
        return f"restart {run.restarts}: max runtime{' of ' + match.group(1) if match else ''} exceeded"
    if str(run.trigger) == "resume":
        return "resumed: LabDeck had stopped"
    return (run.note or "").split(";")[0][:60] or f"started again ({run.trigger})"


def chain_bars(chain, now: float | None = None, attempts: dict | None = None,
               shown: int | None = None) -> tuple[list[str], list[TimelineBar], list[RestartMarker]]:
    """A chain of runs (``[(run, node_runs), ...]``, oldest first) on one time axis: one row per
    node, each run's bars, and a marker where each later run started. Bars of the run ``shown``
    carry no ``of_run`` (a click selects its node); the others say which run they belong to."""
    names: list[str] = []
    for _run, node_runs in chain:
        for nr in node_runs:
            if nr.node_name not in names:
                names.append(nr.node_name)
    rows = {n: i for i, n in enumerate(names)}
    bars: list[TimelineBar] = []
    markers: list[RestartMarker] = []
    for i, (run, node_runs) in enumerate(chain):
        of_run = None if run.id == shown else run.id
        bars += timeline_bars(node_runs, now, attempts, rows, of_run)
        if i:
            starts = [nr.started_at for nr in node_runs if nr.started_at is not None]
            markers.append(RestartMarker(min(starts) if starts else run.started_at, run.id,
                                         restart_reason(run, chain[i - 1][0])))
    return names, bars, markers


def array_bars(tasks, now: float | None = None) -> tuple[list[str], list[TimelineBar]]:
    """An array's items per node over time: one row per node, a bar per item (task run) that
    started on it. ``tasks``: store/run_queue.task_runs rows (run, node-run fields)."""
    now = now or time.time()
    names: list[str] = []
    bars = []
    colors: dict[str, str] = {}
    for run, nr in tasks:
        node, started = nr.get("node_name"), nr.get("started_at")
        if not node or started is None:
            continue
        if node not in names:
            names.append(node)
        status = nr.get("status") or str(run.status)
        end = nr.get("finished_at") or now
        bars.append(TimelineBar(node, names.index(node), started, max(end, started + 0.2), status,
                                nr.get("attempt") or 1, colors.get(status) or colors.setdefault(
                                    status, status_color(status).name()), run.id))
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
    nodeRunClicked = Signal(int, str)   # a bar of another run of a restart chain: (run id, node)
    taskRunClicked = Signal(int)   # an array item's bar (set_bars with run ids)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.node_runs: list = []
        self.bars: list[TimelineBar] = []
        self.names: list[str] = []
        self.markers: list[RestartMarker] = []

    def set_node_runs(self, node_runs, attempts: dict | None = None) -> None:
        self.node_runs = list(node_runs)
        self.set_bars([nr.node_name for nr in self.node_runs], timeline_bars(self.node_runs, attempts=attempts))

    def set_chain(self, chain, attempts: dict | None = None, shown: int | None = None) -> None:
        """A run with its restarts (``[(run, node_runs), ...]``, oldest first); see chain_bars."""
        self.node_runs = [nr for run, node_runs in chain if run.id == shown for nr in node_runs]
        self.set_bars(*chain_bars(chain, attempts=attempts, shown=shown))

    def set_bars(self, names: list[str], bars: list[TimelineBar], markers: list[RestartMarker] | None = None) -> None:
        markers = list(markers or [])
        if (list(names), list(bars), markers) == (self.names, self.bars, self.markers) and self.built:
            return   # nothing moved (a finished run shown again): no redraw
        self.names, self.bars, self.markers = list(names), list(bars), markers
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
        self.lines: list = []
        self._shown: dict = {}   # what the plot shows now: ticks, axis label, y range, labels' key
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def render(self) -> None:
        """Draw the bars. A running run is redrawn every few seconds while nodes stream, so only
        what changed is touched: the bars' item is updated in place, and the axis ticks, label,
        y range, attempt labels and restart markers are set again only when they differ (each
        of those makes pyqtgraph lay the axes out again: tens of ms on a busy machine)."""
        pg, plot = self.pg, self.plot
        item = plot.getPlotItem()
        ticks = [(i, n) for i, n in enumerate(self.names)]
        if ticks != self._shown.get("ticks"):
            item.getAxis("left").setTicks([ticks])
            self._shown["ticks"] = ticks
        if not self.bars:
            self._clear_decor()
            if self.item is not None:
                plot.removeItem(self.item)
                self.item = None
            return
        self.origin = min(b.start for b in self.bars)
        label = f"since {fmt_time(self.origin)}"
        if label != self._shown.get("label"):
            item.setLabel("bottom", label)
            self._shown["label"] = label
        _background, ink = theme_colors()   # outlines and labels in the palette's text colour (dark mode)
        by_status = _color_names(b.status for b in self.bars)   # as the palette is now (light or dark)
        colors = [QColor(by_status[b.status]) for b in self.bars]
        for color, b in zip(colors, self.bars, strict=True):
            if b.of_run is not None:
                color.setAlpha(110)   # another run of the restart chain: faded, the run shown stands out
        pens = [pg.mkPen(ink, width=2) if b.attempt > 1 else pg.mkPen(QColor(c).darker(130))
                for c, b in zip(colors, self.bars, strict=True)]
        opts = dict(x0=[b.start - self.origin for b in self.bars], x1=[b.end - self.origin for b in self.bars],
                    y=[b.row for b in self.bars], height=0.6, brushes=[pg.mkBrush(c) for c in colors], pens=pens)
        if self.item is None:
            self.item = pg.BarGraphItem(**opts)
            plot.addItem(self.item)
        else:
            self.item.setOpts(**opts)
        decor = (ink.name(), self.origin, tuple((b.attempt, b.start, b.row) for b in self.bars if b.attempt > 1),
                 tuple(self.markers))
        if decor != self._shown.get("decor"):
            self._clear_decor()
            self._shown["decor"] = decor
            for b in self.bars:
                if b.attempt > 1:
                    text = pg.TextItem(f"attempt {b.attempt}", anchor=(0, 0.5), color=ink)
                    text.setPos(b.start - self.origin, b.row)
                    plot.addItem(text)
                    self.labels.append(text)
            for m in self.markers:   # a restart: a dashed line where the new run started, and why
                line = pg.InfiniteLine(pos=m.at - self.origin, angle=90,
                                       pen=pg.mkPen(ink, width=1, style=Qt.PenStyle.DashLine))
                plot.addItem(line)
                self.lines.append(line)
                text = pg.TextItem(f"run #{m.run_id} · {m.text}", anchor=(0, 0), color=ink)
                text.setPos(m.at - self.origin, -0.95)   # in the band kept free above the first row
                plot.addItem(text)
                self.labels.append(text)
        end = max(b.end for b in self.bars) - self.origin
        pad = max(0.5, end * 0.03)
        if any(b.status == "running" for b in self.bars):
            # growing bars: room ahead, so the time axis is laid out again only when they reach it
            shown = self._shown.get("x")
            if shown is None or end + pad > shown[1] or shown[1] > 2 * (end + pad) + 5:
                x_range = (-pad, end * 1.25 + pad + 5)
            else:
                x_range = shown
        else:
            x_range = (-pad, end + pad)
        if x_range != self._shown.get("x"):
            plot.setXRange(*x_range, padding=0)
            self._shown["x"] = x_range
        y_range = (-1.0 if self.markers else -0.6, len(self.names) - 0.4)
        if y_range != self._shown.get("y"):
            plot.setYRange(*y_range, padding=0)
            self._shown["y"] = y_range

    def _clear_decor(self) -> None:
        for item in self.labels + self.lines:
            self.plot.removeItem(item)
        self.labels, self.lines = [], []
        self._shown.pop("decor", None)

    def apply_palette(self) -> None:
        super().apply_palette()
        if getattr(self, "lines", None) is not None:   # built (build() sets it after the plot)
            self.render()   # bars, outlines and labels take their colours from the palette

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
        elif bar.of_run is not None:
            self.nodeRunClicked.emit(bar.of_run, bar.node)
        else:
            self.nodeClicked.emit(bar.node)
