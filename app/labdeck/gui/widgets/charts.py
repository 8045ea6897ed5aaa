"""Charts with pyqtgraph, loaded after the window's first paint.

pyqtgraph draws with Qt's own scene graph, follows the data live at thousands of points
without effort, has a time axis and clickable items, and is a single pure-Python wheel on
top of numpy; it is the usual choice in scientific Qt apps. QtCharts would need PySide6's
Addons wheel (~100 MB more in the build) and is slower for live updates. Importing
pyqtgraph costs ~0.4 s, so it is imported in the background after start-up (``preload``)
and each chart is built the first time it is shown (``ChartHost``).
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

_lock = threading.Lock()
_module = None


def pyqtgraph():
    """The pyqtgraph module, imported (and set up for LabDeck) on first use."""
    global _module
    with _lock:
        if _module is None:
            import pyqtgraph as pg
            # no antialiasing: with it a curve of a day of probes costs milliseconds per repaint
            pg.setConfigOptions(antialias=False, useNumba=False, imageAxisOrder="row-major")
            # pyqtgraph and numpy add ~150,000 long-lived objects; without this every full
            # garbage collection walks them all, a GUI stall of tens of ms while nodes stream
            # output (measured with bench/bench_gui.py). Frozen objects are never collected, which
            # is what modules and their classes are anyway.
            gc.freeze()
            _module = pg
    return _module


def preload() -> threading.Thread:
    """Import pyqtgraph on a background thread (the GUI keeps painting meanwhile)."""
    thread = threading.Thread(target=pyqtgraph, name="labdeck-preload-charts", daemon=True)
    thread.start()
    return thread


def theme_colors() -> tuple[QColor, QColor]:
    """(background, foreground) of the current palette: charts follow light and dark mode."""
    pal = QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)


class ChartHost(QWidget):
    """A widget whose pyqtgraph content is made by ``build(pg)`` when it is first shown;
    ``render()`` draws the data set so far, and runs again on each ``set``-style update once built."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.built = False

    def ensure_built(self) -> bool:
        if not self.built:
            self.built = True
            self.build(pyqtgraph())
            self.render()
        return self.built

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.ensure_built()
        super().showEvent(event)

    def update_chart(self) -> None:
        """New data: draw it now if the chart exists (or on its first showing)."""
        if self.built:
            self.render()

    def plot_widget(self, pg, **kwargs):
        """A PlotWidget in the palette's colours (and again when the system switches between
        light and dark), added to this host."""
        widget = pg.PlotWidget(**kwargs)
        widget.getPlotItem().hideButtons()
        widget.setMenuEnabled(False)
        self._layout.addWidget(widget)
        self._plots = getattr(self, "_plots", []) + [widget]
        self.apply_palette()
        return widget

    def apply_palette(self) -> None:
        background, foreground = theme_colors()
        for widget in getattr(self, "_plots", []):
            widget.setBackground(background)
            for name in ("left", "bottom"):
                axis = widget.getPlotItem().getAxis(name)
                axis.setPen(foreground)
                axis.setTextPen(foreground)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.type() == QEvent.Type.PaletteChange and self.built:
            self.apply_palette()
        super().changeEvent(event)

    # subclasses
    def build(self, pg) -> None:
        raise NotImplementedError

    def render(self) -> None:
        raise NotImplementedError
