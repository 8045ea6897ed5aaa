"""RunHistoryModel: the run history as a lazily loaded table model.

Filtering, searching and sorting run in SQL and only one page of rows is fetched at a time
(``PAGE`` rows; the view asks for the next page through ``canFetchMore``/``fetchMore`` when
it is scrolled to the end, or the page's "Load more" button does). So opening the history
costs the same with 100 runs or 100,000: one query for a page, one to count the matches.
Each row's texts are computed once when it is loaded; ``data`` only looks them up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QStandardItem

from ..status_style import fmt_duration, fmt_time, status_icon, status_label

COLUMNS = ["Run", "Job", "Status", "Nodes", "Trigger", "Started", "Duration", "Targets / note"]
JOB_COLUMN = COLUMNS.index("Job")
NODES_ROLE = Qt.ItemDataRole.UserRole + 1
STARTED_ROLE = Qt.ItemDataRole.UserRole + 2
PAGE = 500

# ORDER BY per column; every order ends on the id so pages never overlap or skip rows.
_ORDER = ["r.id", "r.job_name", "r.status", "ok", "r.trigger", "r.started_at",
          "COALESCE(r.finished_at, r.started_at) - r.started_at", "r.targets"]
_NEEDS_AGGREGATE = {3}   # columns whose order needs the node-run counts of every run


@dataclass
class RunFilters:
    job: str | None = None
    node: str | None = None
    status: str | None = None
    since: float | None = None   # started at or after (epoch seconds)
    text: str = ""               # case-insensitive, in id, job, status, trigger, targets, note, node names
    project: str | None = None   # runs of this project's jobs

    def where(self) -> tuple[str, list]:
        clauses, params = ["r.workflow_run_id IS NULL"], []  # task runs show under their workflow or array
        if self.project:
            clauses.append("r.job_id IN (SELECT id FROM jobs WHERE project = ?)")
            params.append(self.project)
        if self.job:
            clauses.append("r.job_name = ?")
            params.append(self.job)
        if self.status:
            clauses.append("r.status = ?")
            params.append(self.status)
        if self.since:
            clauses.append("r.started_at >= ?")
            params.append(self.since)
        if self.node:
            clauses.append("EXISTS (SELECT 1 FROM node_runs n WHERE n.run_id = r.id AND n.node_name = ?)")
            params.append(self.node)
        text = self.text.lower().strip()
        if text:
            clauses.append(
                "(instr('#' || r.id, ?) OR instr(lower(r.job_name), ?) OR instr(replace(r.status, '_', ' '), ?)"
                " OR instr(r.status, ?) OR instr(lower(r.trigger), ?) OR instr(lower(r.targets), ?)"
                " OR instr(lower(COALESCE(r.note, '')), ?)"
                " OR EXISTS (SELECT 1 FROM node_runs n WHERE n.run_id = r.id AND instr(lower(n.node_name), ?)))")
            params += [text] * 8
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def history_page(catalog, filters: RunFilters, column: int, descending: bool, offset: int,
                 limit: int) -> list[dict]:
    """One page of runs with their node names and node-run counts."""
    where, params = filters.where()
    direction = "DESC" if descending else "ASC"
    order = f"{_ORDER[column]} {direction}, r.id {direction}"
    aggregate = ("GROUP_CONCAT(nr.node_name, ',') AS nodes, COUNT(nr.id) AS total,"
                 " SUM(nr.status = 'succeeded') AS ok")
    if column in _NEEDS_AGGREGATE:
        sql = (f"SELECT r.id, r.job_name, r.trigger, r.status, r.targets, r.note, r.started_at, r.finished_at, {aggregate}"
               f" FROM runs r LEFT JOIN node_runs nr ON nr.run_id = r.id{where}"
               f" GROUP BY r.id ORDER BY {order} LIMIT ? OFFSET ?")
    else:  # pick the page first (indexes, no join), then count node runs for those rows only
        sql = (f"SELECT r.id, r.job_name, r.trigger, r.status, r.targets, r.note, r.started_at, r.finished_at, {aggregate}"
               f" FROM (SELECT r.* FROM runs r{where} ORDER BY {order} LIMIT ? OFFSET ?) r"
               f" LEFT JOIN node_runs nr ON nr.run_id = r.id GROUP BY r.id ORDER BY {order}")
    return catalog._rows(sql, (*params, limit, offset))


def history_count(catalog, filters: RunFilters) -> int:
    where, params = filters.where()
    return catalog._rows(f"SELECT COUNT(*) AS n FROM runs r{where}", tuple(params))[0]["n"]


def history_job_names(catalog) -> list[str]:
    return [r["job_name"] for r in catalog._rows("SELECT DISTINCT job_name FROM runs")]


class RunHistoryModel(QAbstractTableModel):
    def __init__(self, catalog, parent=None, page: int = PAGE):
        super().__init__(parent)
        self.catalog = catalog
        self.page = page
        self.filters = RunFilters()
        self.sort_column = 0
        self.descending = True
        self.total = 0
        self.active = False            # nothing is queried before the first reload
        self._rows: list[tuple] = []   # (texts, run id, status, node names, started_at)

    # ---- loading ----------------------------------------------------------------------------

    def reload(self, keep: int = 0) -> None:
        """Query again from the top; ``keep``: load at least this many rows (a refresh keeps
        what the user had scrolled through)."""
        count = max(self.page, keep)
        rows = [self._convert(r) for r in
                history_page(self.catalog, self.filters, self.sort_column, self.descending, 0, count)]
        total = history_count(self.catalog, self.filters)
        self.active = True
        self.beginResetModel()
        self._rows, self.total = rows, max(total, len(rows))
        self.endResetModel()

    def set_filters(self, filters: RunFilters) -> None:
        if filters != self.filters or not self.active:
            self.filters = filters
            self.reload()

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < self.total

    def fetchMore(self, parent=QModelIndex()) -> None:
        if parent.isValid():
            return
        rows = [self._convert(r) for r in history_page(self.catalog, self.filters, self.sort_column,
                                                       self.descending, len(self._rows), self.page)]
        if not rows:
            self.total = len(self._rows)
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column = column if 0 <= column < len(COLUMNS) else 0
        self.descending = order == Qt.SortOrder.DescendingOrder
        if self.active:
            self.reload()

    @staticmethod
    def _convert(r: dict) -> tuple:
        nodes = sorted(set(r["nodes"].split(","))) if r["nodes"] else []
        if r["total"]:
            duration = (r["finished_at"] or time.time()) - r["started_at"] if r["started_at"] else None
            counts, took = f"{r['ok'] or 0}/{r['total']} ok", fmt_duration(duration)
        else:  # a missed or skipped fire, or a run that could not start: nothing ran, no duration
            counts, took = "—", "—"
        detail = " · ".join(part for part in (r["targets"], r["note"]) if part)
        texts = (f"#{r['id']}", r["job_name"], status_label(r["status"]), counts,
                 r["trigger"], fmt_time(r["started_at"]), took, detail)
        return texts, r["id"], r["status"], nodes, r["started_at"]

    # ---- access -----------------------------------------------------------------------------

    def run_id(self, row: int) -> int:
        return self._rows[row][1]

    def loaded(self) -> int:
        return len(self._rows)

    def item(self, row: int, column: int) -> QStandardItem:
        """A detached copy of one cell (text, icon, tooltip, user data), for tools and tests."""
        index = self.index(row, column)
        item = QStandardItem(self.data(index) or "")
        icon = self.data(index, Qt.ItemDataRole.DecorationRole)
        if icon is not None:
            item.setIcon(icon)
        item.setToolTip(self.data(index, Qt.ItemDataRole.ToolTipRole) or "")
        item.setData(self.data(index, Qt.ItemDataRole.UserRole), Qt.ItemDataRole.UserRole)
        return item

    # ---- Qt model API -----------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        texts, run_id, status, nodes, started = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return texts[col]
        if role == Qt.ItemDataRole.UserRole:
            return run_id if col == 0 else status if col == 2 else None
        if role == Qt.ItemDataRole.DecorationRole:
            return status_icon(status) if col == 2 else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return ", ".join(nodes) if col == 3 else None
        if role == NODES_ROLE:
            return nodes
        if role == STARTED_ROLE:
            return started
        return None
