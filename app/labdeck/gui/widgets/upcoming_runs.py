"""The Schedules page's "upcoming runs": every fire of the next 24 hours, grouped by local hour,
schedules that fire more than hourly folded into one "frequent" group, and fires that a
daylight-saving change moves or skips flagged."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTreeWidget, QTreeWidgetItem

from ...core.errors import LabDeckError
from ...core.schedules import Schedule, fire_times, trigger_for
from ..dialogs.schedule_dialog import WARN_BG, WARN_COLOR
from ..scheduling import dst_flags
from ..status_style import dot_icon

HORIZON_S = 24 * 3600
FREQUENT = 24          # more fires than this in 24 h: one "frequent" line instead of one line per fire
MAX_TIMELINE = 400     # timeline rows at most


class UpcomingRuns(QTreeWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHeaderLabels(["Time (local)", "Job", "Schedule", "Note"])
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def fill(self, schedules: list[Schedule], paused: bool, now: datetime) -> str:
        """Show the fires of the next 24 hours; returns the count line for the title."""
        self.clear()
        if paused:
            self.addTopLevelItem(QTreeWidgetItem(["Scheduling is paused: nothing fires", "", "", ""]))
            return "paused"
        until = now + timedelta(seconds=HORIZON_S)
        frequent: list[tuple[datetime, Schedule, int]] = []
        fires: list[tuple[datetime, Schedule]] = []
        for s in schedules:
            if not s.enabled:
                continue
            try:
                found = fire_times(trigger_for(s), now, until, FREQUENT + 1)
            except LabDeckError:
                continue
            if len(found) > FREQUENT:
                frequent.append((found[0], s, len(found)))
            else:
                fires.extend((t, s) for t in found)
        fires.sort(key=lambda f: f[0].timestamp())
        bold = QFont()
        bold.setBold(True)
        if frequent:
            group = QTreeWidgetItem([f"Frequent ({len(frequent)} schedule(s) firing more than hourly)", "", "", ""])
            group.setFirstColumnSpanned(True)
            group.setFont(0, bold)
            for first, s, _n in sorted(frequent, key=lambda f: f[0].timestamp()):
                group.addChild(QTreeWidgetItem([f"next {first.astimezone():%H:%M:%S}", s.job_name, s.describe(),
                                                f"more than {FREQUENT} fires in the next 24 h"]))
            self.addTopLevelItem(group)
            group.setExpanded(True)
        groups: dict[str, QTreeWidgetItem] = {}
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        flags = dst_flags(schedules, now, HORIZON_S, FREQUENT)
        for t, s in fires[:MAX_TIMELINE]:
            local = t.astimezone()
            key = f"{local:%a %d %b, %H}:00 – {(local + timedelta(hours=1)):%H}:00"
            group = groups.get(key)
            if group is None:
                group = QTreeWidgetItem([key, "", "", ""])
                group.setFirstColumnSpanned(True)
                group.setFont(0, bold)
                groups[key] = group
                self.addTopLevelItem(group)
                group.setExpanded(True)
            note = flags.get((s.id, round(t.timestamp())), "")
            child = QTreeWidgetItem([f"{local:%H:%M:%S}", s.job_name, s.describe(), note])
            child.setIcon(1, dot_icon("#5c6bc0", 10))
            if note:
                child.setIcon(3, warn)
                for col in range(4):
                    child.setForeground(col, QBrush(QColor(WARN_COLOR)))
                    child.setBackground(col, QBrush(QColor(WARN_BG)))
            group.addChild(child)
        for group in groups.values():
            group.setText(0, f"{group.text(0)}   ({group.childCount()} run(s))")
        if len(fires) > MAX_TIMELINE:
            self.addTopLevelItem(QTreeWidgetItem([f"… and {len(fires) - MAX_TIMELINE} more", "", "", ""]))
        if not fires and not frequent:
            self.addTopLevelItem(QTreeWidgetItem(["Nothing scheduled in the next 24 hours", "", "", ""]))
        return f"{len(fires)} run(s)" + (f" plus {len(frequent)} frequent schedule(s)" if frequent else "")
