"""NodePanel: the selected node in detail — its CPU, memory and GPU use over the last day
(from the probes kept in store/metrics.py) and its recent runs; double-click a run to open it."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from ...core.metrics import MetricSample
from ..status_style import fmt_duration, fmt_time, status_color, status_icon, status_label
from .charts import ChartHost
from .page_parts import read_only_table

SERIES = (("CPU", "cpu", "#1e88e5"), ("Memory", "memory", "#8e24aa"), ("Disk", "disk", "#8d6e63"))
GPU_COLORS = ("#43a047", "#fb8c00", "#00acc1", "#d81b60")


def series_of(samples: list[MetricSample]) -> dict[str, tuple[list[float], list[float]]]:
    """name -> (times, percents) for CPU, memory, disk and each GPU; empty series left out."""
    result: dict[str, tuple[list[float], list[float]]] = {}
    for label, attr, _color in SERIES:
        points = [(s.at, getattr(s, attr)) for s in samples if getattr(s, attr) is not None]
        if points:
            result[label] = ([p[0] for p in points], [p[1] for p in points])
    gpus = max((len(s.gpus) for s in samples), default=0)
    for i in range(gpus):
        points = [(s.at, s.gpus[i]) for s in samples if len(s.gpus) > i]
        result[f"GPU {i}"] = ([p[0] for p in points], [p[1] for p in points])
    return result


def series_color(name: str) -> str:
    return {label: color for label, _a,
            color in SERIES}.get(name) or GPU_COLORS[int(name.split()[-1]) % len(GPU_COLORS)]


def legend_html(names) -> str:
    """The chart's legend as a line of text above it (inside the plot it covered the lines)."""
    return " ".join(f"<span style='color:{series_color(n)}'>━</span> {n}" for n in names)


class NodeDayChart(ChartHost):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.curves: dict[str, object] = {}
        self.setMinimumHeight(140)

    def set_samples(self, samples: list[MetricSample]) -> None:
        series = series_of(samples)
        if series == self.series and self.built:
            return   # no new probe since the last refresh
        self.series = series
        self.update_chart()

    def build(self, pg) -> None:
        self.pg = pg
        self.plot = self.plot_widget(pg, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        item = self.plot.getPlotItem()
        item.setLabel("left", "% in use")
        item.setYRange(0, 104, padding=0)
        item.getAxis("left").setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)]])
        self.plot.setMouseEnabled(x=True, y=False)
        item.showGrid(x=False, y=True, alpha=0.25)

    def render(self) -> None:
        pg = self.pg
        for name in list(self.curves):
            if name not in self.series:
                self.plot.removeItem(self.curves.pop(name))
        for name, (xs, ys) in self.series.items():
            curve = self.curves.get(name)
            if curve is None:
                curve = self.curves[name] = self.plot.plot([], [], pen=pg.mkPen(QColor(series_color(name)), width=1.6))
            curve.setData(xs, ys)
        if self.series:
            self.plot.getPlotItem().enableAutoRange(axis="x")


class NodePanel(QWidget):
    openRun = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.node_name: str | None = None
        self.title = QLabel("Select a node to see its last day and its recent runs.")
        self.title.setWordWrap(True)
        self.chart = NodeDayChart()
        self.chart.hide()              # built (and pyqtgraph loaded) only once a node is chosen
        self.runs = read_only_table(["Run", "Job", "Status", "Started", "Duration"])
        self.runs.doubleClicked.connect(self._open)
        self.runs.hide()
        body = QHBoxLayout()
        body.addWidget(self.chart, 3)
        body.addWidget(self.runs, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(body, 1)

    def show_node(self, name: str | None, samples: list[MetricSample], runs: list[dict], down: str = "") -> None:
        """``down``: "down since 14:05: connection refused" when the engine found the node down."""
        self.node_name = name
        if name is None:
            self.title.setText("Select a node to see its last day and its recent runs.")
            self.chart.hide()
            self.runs.hide()
            return
        note = "" if samples else " — no probes stored yet: press Test, or wait for the next periodic probe"
        self.chart.show()
        self.chart.set_samples(samples)
        colour = status_color("unreachable").name()
        down_html = f" · <span style='color:{colour}'>{html.escape(down)}</span>" if down else ""
        self.title.setText(f"<b>{html.escape(name)}</b>{down_html} · the last day{note} &nbsp; "
                           f"{legend_html(self.chart.series)}")
        self.runs.show()
        self.runs.setRowCount(len(runs))
        for row, r in enumerate(runs):
            cells = [f"#{r['run_id']}", r["job_name"], status_label(r["status"]), fmt_time(r["started_at"]),
                     fmt_duration(r["seconds"])]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, r["run_id"])
                if col == 2:
                    item.setIcon(status_icon(r["status"]))
                self.runs.setItem(row, col, item)

    def _open(self, index) -> None:
        self.openRun.emit(self.runs.item(index.row(), 0).data(Qt.ItemDataRole.UserRole))
