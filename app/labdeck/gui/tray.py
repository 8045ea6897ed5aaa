"""Tray icon: idle / running / failed state (icons from resources/), a menu (Open, recent
failures, Pause/Resume scheduling, Quit) and a message when a run fails. Created only when the system has a tray;
the app works the same without one."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ..store import queries
from ..store.schedules import ScheduleStore
from .icons import tray_icon
from ..engine.api import EngineApi


class Tray(QObject):
    openRequested = Signal()
    openRun = Signal(int)
    quitRequested = Signal()
    schedulingToggled = Signal(bool)   # paused

    def __init__(self, engine: EngineApi, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.state = "idle"
        self.icon = QSystemTrayIcon(tray_icon("idle"), self)
        self.menu = QMenu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.openRequested)
        self.refresh()
        self.icon.show()

    def _activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()

    def refresh(self) -> None:
        counts = queries.counts(self.engine.catalog)
        state = "running" if counts["running"] else "failed" if counts["failed_today"] else "idle"
        if state != self.state:
            self.state = state
            self.icon.setIcon(tray_icon(state))
        self.icon.setToolTip(f"LabDeck — {counts['running']} running, {counts['failed_today']} failed today")
        self.menu.clear()
        self.menu.addAction("Open LabDeck", self.openRequested.emit)
        failures = queries.recent_failures(self.engine.catalog, 5)
        if failures:
            self.menu.addSection("Recent failures")
            for f in failures:
                action = QAction(f"#{f['id']} {f['job_name']} — {f['status']}", self.menu)
                action.triggered.connect(lambda _c=False, rid=f["id"]: self.openRun.emit(rid))
                self.menu.addAction(action)
        self.menu.addSeparator()
        paused = ScheduleStore(self.engine.catalog).paused()
        self.pause_action = self.menu.addAction("Resume scheduling" if paused else "Pause scheduling",
                                                self.toggle_scheduling)
        self.menu.addAction("Quit", self.quitRequested.emit)

    def toggle_scheduling(self) -> bool:
        """Pause all scheduling, or resume it (the catalog's pause-all setting); returns paused."""
        store = ScheduleStore(self.engine.catalog)
        paused = not store.paused()
        store.set_paused(paused)
        QTimer.singleShot(0, self.refresh)  # later: refresh() clears the menu, this may be its action's slot
        self.schedulingToggled.emit(paused)
        return paused

    def notify_failure(self, run_id: int, job_name: str, status: str) -> None:
        self.icon.showMessage("LabDeck: a run failed", f"Run #{run_id} of {job_name} ended {status}.",
                              QSystemTrayIcon.MessageIcon.Warning, 8000)
