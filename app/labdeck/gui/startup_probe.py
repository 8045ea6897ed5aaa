"""``labdeck --startup-probe``: start the app as a user would (the engine as the app starts it,
the main window) and exit at the main window's first paint, printing when that happened. bench/ times a
cold start from outside with it; the app is not left running and no scheduler is started."""

from __future__ import annotations

import os
import sys
import tempfile
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from ..store import paths
from .self_test import needs_offscreen

PREFIX = "startup-probe:"


class FirstPaint(QObject):
    """Notes the wall-clock time of the watched widget's first paint and quits the event loop."""

    def __init__(self, app: QApplication):
        super().__init__()
        self.app = app
        self.painted_at: float | None = None

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and self.painted_at is None:
            self.painted_at = time.time()
            QTimer.singleShot(0, self.app.quit)
        return False


def run_startup_probe(data_dir: str | None = None, out=print) -> int:
    entered = time.time()
    if needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication(sys.argv[:1])

    from .app import open_main_window

    with tempfile.TemporaryDirectory(prefix="labdeck-probe-", ignore_cleanup_errors=True) as tmp:
        engine, window = open_main_window(paths.resolve_data_dir(data_dir or tmp), use_tray=False)  # as the app does
        probe = FirstPaint(app)
        window.installEventFilter(probe)
        QTimer.singleShot(30_000, app.quit)  # never hang a benchmark
        window.show()
        app.exec()
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close()
    if probe.painted_at is None:
        out(f"{PREFIX} the main window was never painted (platform {app.platformName()})")
        return 1
    out(f"{PREFIX} painted_at={probe.painted_at:.6f} entered_main_at={entered:.6f} "
        f"main_to_paint_s={probe.painted_at - entered:.3f} platform={app.platformName()}")
    return 0
