"""Runs page: the run history with filters (job, node, status, since a date) and a search
box, through a QSortFilterProxyModel; double-click opens a run in the run view."""

from __future__ import annotations

import time

from PySide6.QtCore import QDate, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget)

from ...store import queries
from ..status_style import fmt_duration, fmt_time, status_icon, status_label

COLUMNS = ["Run", "Job", "Status", "Nodes", "Trigger", "Started", "Duration", "Targets"]
NODES_ROLE = Qt.ItemDataRole.UserRole + 1
STARTED_ROLE = Qt.ItemDataRole.UserRole + 2
SORT_ROLE = Qt.ItemDataRole.UserRole + 3
ALL = "(all)"


class RunFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.job = self.node = self.status = None
        self.since: float | None = None
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_filters(self, job=None, node=None, status=None, since=None, text="") -> None:
        modern = hasattr(self, "beginFilterChange")
        if modern:
            self.beginFilterChange()
        self.job, self.node, self.status, self.since, self.text = job, node, status, since, text.lower().strip()
        if modern:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        m = self.sourceModel()
        first = m.index(row, 0, parent)
        if self.job and m.index(row, 1, parent).data() != self.job:
            return False
        if self.status and m.index(row, 2, parent).data(Qt.ItemDataRole.UserRole) != self.status:
            return False
        if self.node and self.node not in (first.data(NODES_ROLE) or []):
            return False
        if self.since and (first.data(STARTED_ROLE) or 0) < self.since:
            return False
        if self.text:
            hay = " ".join(str(m.index(row, c, parent).data() or "") for c in range(m.columnCount()))
            hay += " " + " ".join(first.data(NODES_ROLE) or [])
            return self.text in hay.lower()
        return True


class RunsPage(QWidget):
    openRun = Signal(int)

    def __init__(self, engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.proxy = RunFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.view.doubleClicked.connect(self._open)

        self.job = QComboBox()
        self.node = QComboBox()
        self.status = QComboBox()
        self.status.addItems([ALL, "running", "succeeded", "failed", "cancelled", "interrupted"])
        self.use_since = QCheckBox("Since")
        self.since = QDateEdit(QDate.currentDate().addDays(-7))
        self.since.setCalendarPopup(True)
        self.since.setEnabled(False)
        self.use_since.toggled.connect(self.since.setEnabled)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search runs (job, node, status, targets)…")
        self.search.setClearButtonEnabled(True)
        for w in (self.job, self.node, self.status):
            w.currentTextChanged.connect(self.apply_filters)
            w.setMinimumWidth(130)
        self.use_since.toggled.connect(self.apply_filters)
        self.since.dateChanged.connect(self.apply_filters)
        self.search.textChanged.connect(self.apply_filters)
        bar = QHBoxLayout()
        for label, w in (("Job", self.job), ("Node", self.node), ("Status", self.status)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
        bar.addWidget(self.use_since)
        bar.addWidget(self.since)
        bar.addWidget(self.search, 1)
        self.count = QLabel()

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Run history</h2>"))
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

    def refresh(self) -> None:
        rows = queries.run_history(self.engine.catalog, 2000)
        self.model.setRowCount(0)
        for r in rows:
            nodes = sorted(set((r["nodes"] or "").split(","))) if r["nodes"] else []
            duration = (r["finished_at"] or time.time()) - r["started_at"] if r["started_at"] else None
            items = [QStandardItem(f"#{r['id']}"), QStandardItem(r["job_name"]),
                     QStandardItem(status_label(r["status"])),
                     QStandardItem(f"{r['ok'] or 0}/{r['total']} ok"), QStandardItem(r["trigger"]),
                     QStandardItem(fmt_time(r["started_at"])), QStandardItem(fmt_duration(duration)),
                     QStandardItem(r["targets"])]
            sort_keys = [r["id"], r["job_name"], r["status"], r["ok"] or 0, r["trigger"], r["started_at"] or 0,
                         duration or 0, r["targets"]]
            for item, key in zip(items, sort_keys):
                item.setData(key, SORT_ROLE)
            items[0].setData(r["id"], Qt.ItemDataRole.UserRole)
            items[0].setData(nodes, NODES_ROLE)
            items[0].setData(r["started_at"], STARTED_ROLE)
            items[2].setData(r["status"], Qt.ItemDataRole.UserRole)
            items[2].setIcon(status_icon(r["status"]))
            items[3].setToolTip(", ".join(nodes))
            self.model.appendRow(items)
        self._fill_combo(self.job, [j.name for j in self.engine.catalog.list_jobs()] + [r["job_name"] for r in rows])
        self._fill_combo(self.node, [n.name for n in self.engine.catalog.list_nodes()])
        self.apply_filters()

    @staticmethod
    def _fill_combo(combo: QComboBox, names: list[str]) -> None:
        current = combo.currentText() or ALL
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([ALL] + sorted(set(names)))
        combo.setCurrentText(current)
        combo.blockSignals(False)

    def apply_filters(self, *_args) -> None:
        pick = lambda combo: None if combo.currentText() in ("", ALL) else combo.currentText()
        since = None
        if self.use_since.isChecked():
            since = self.since.date().startOfDay().toSecsSinceEpoch()
        self.proxy.set_filters(pick(self.job), pick(self.node), pick(self.status), since, self.search.text())
        self.count.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} runs")

    def run_id_at(self, proxy_row: int) -> int:
        return self.proxy.index(proxy_row, 0).data(Qt.ItemDataRole.UserRole)

    def _open(self, index) -> None:
        self.openRun.emit(self.run_id_at(index.row()))
