"""JobTrend: how long a job's last runs took, one point per run on a time axis; failed runs
are red crosses. Clicking a point emits ``runClicked(run id, status)`` (the History page
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
        self.job_name, self.points = job_name, list(points)
        self.update_chart()

    def failed_points(self) -> list[dict]:
        return [p for p in self.points if p["status"] in BAD]

    def build(self, pg) -> None:
        self.pg = pg
        self.plot = self.plot_widget(pg, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.getPlotItem().setLabel("left", "minutes")
        self.plot.getPlotItem().showGrid(x=False, y=True, alpha=0.25)
        self.line = self.plot.plot([], [], pen=pg.mkPen(QColor("#5c6bc0"), width=1.5))
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip)
        self.scatter.sigClicked.connect(self._clicked)
        self.plot.addItem(self.scatter)
        self.title = pg.TextItem("", anchor=(0, 0))
        self.plot.addItem(self.title)

    def render(self) -> None:
        pg = self.pg
        xs = [p["started_at"] for p in self.points]
        ys = [p["seconds"] / 60.0 for p in self.points]
        self.line.setData(xs, ys)
        spots = []
        for p, x, y in zip(self.points, xs, ys):
            bad = p["status"] in BAD
            color = status_color(p["status"])
            spots.append({"pos": (x, y), "data": p, "symbol": "x" if bad else "o", "size": 13 if bad else 8,
                          "brush": pg.mkBrush(color), "pen": pg.mkPen(color, width=2 if bad else 1)})
        self.scatter.setData(spots)
        if self.points:
            self.plot.enableAutoRange()

    def _tip(self, x, y, data) -> str:
        return f"run #{data['id']}: {data['status']}, {y:.1f} min — click for the history"

    def _clicked(self, _item, spots, _event=None) -> None:
        if len(spots):
            self.click_point(spots[0].data())

    def click_point(self, point: dict) -> None:
        self.runClicked.emit(point["id"], point["status"])
