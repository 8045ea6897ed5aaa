"""JobTrend: how long a job's last runs took, one point per run in order (the axis names the
runs); failed runs are red crosses. Clicking a point emits ``runClicked(run id, status)`` (the History page
then shows that job's runs of that status, with the run selected)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor

from ..status_style import BAD, status_color
from .charts import ChartHost


class JobTrend(ChartHost):
    runClicked = Signal(int, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.job_name = ""
        self.points: list[dict] = []     # {"id", "status", "started_at", "seconds"}, oldest first
        self.setMinimumHeight(120)

    def set_runs(self, job_name: str, points: list[dict]) -> None:
        if (job_name, points) == (self.job_name, self.points) and self.built:
            return   # a page refresh with nothing new: no redraw
        self.job_name, self.points = job_name, list(points)
        self.update_chart()

    def failed_points(self) -> list[dict]:
        return [p for p in self.points if p["status"] in BAD]

    def build(self, pg) -> None:
        self.pg = pg
        self.plot = self.plot_widget(pg)
        self.plot.getPlotItem().showGrid(x=False, y=True, alpha=0.25)
        self.plot.setMouseEnabled(x=False, y=False)
        self.line = self.plot.plot([], [], pen=pg.mkPen(QColor("#5c6bc0"), width=1.5))
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip)
        self.scatter.sigClicked.connect(self._clicked)
        self.plot.addItem(self.scatter)

    def render(self) -> None:
        pg = self.pg
        longest = max((p["seconds"] for p in self.points), default=0.0)
        self.unit, scale = ("hours", 3600.0) if longest >= 3 * 3600 else \
            ("minutes", 60.0) if longest >= 180 else ("seconds", 1.0)
        self.plot.getPlotItem().setLabel("left", self.unit)
        xs = list(range(len(self.points)))       # the runs in order; the axis names them
        ys = [p["seconds"] / scale for p in self.points]
        every = max(1, len(self.points) // 8)
        self.plot.getPlotItem().getAxis("bottom").setTicks(
            [[(i, f"#{p['id']}") for i, p in enumerate(self.points) if i % every == 0 or i == len(self.points) - 1]])
        self.line.setData(xs, ys)
        spots = []
        for p, x, y in zip(self.points, xs, ys):
            bad = p["status"] in BAD
            color = status_color(p["status"])
            spots.append({"pos": (x, y), "data": p, "symbol": "x" if bad else "o", "size": 13 if bad else 8,
                          "brush": pg.mkBrush(color), "pen": pg.mkPen(color, width=2 if bad else 1)})
        self.scatter.setData(spots)
        if self.points:
            self.plot.setXRange(-0.5, len(self.points) - 0.5, padding=0)
            self.plot.setYRange(0, max(ys) * 1.15 or 1, padding=0)

    def _tip(self, x, y, data) -> str:
        return f"run #{data['id']}: {data['status']}, {y:.1f} {self.unit} — click for the history"

    def _clicked(self, _item, spots, _event=None) -> None:
        if len(spots):
            self.click_point(spots[0].data())

    def click_point(self, point: dict) -> None:
        self.runClicked.emit(point["id"], point["status"])
