"""The run view's node matrix: one row per node run (status, exit code, duration, attempt,
message) and, per node, what its log reports (progress bar, lines so far, last line). Rows are
written only when what they show changed, since a running run is reloaded many times a second."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from ...core.models import NodeRun
from ..models.transfer_model import PERCENT_ROLE, STATE_ROLE, ProgressDelegate
from ..status_style import fmt_duration, status_color, status_icon, status_label
from .page_parts import read_only_table

COLUMNS = ["Node", "Status", "Exit", "Duration", "Attempt", "Message", "Progress", "Lines", "Last line"]
DURATION_COL, PROGRESS_COL, LINES_COL, LAST_LINE_COL = 3, 6, 7, 8
_BRUSHES: dict[str, QBrush] = {}


def node_matrix() -> QTableWidget:
    table = read_only_table(COLUMNS, alternating=False)
    table.setItemDelegateForColumn(PROGRESS_COL, ProgressDelegate(table))
    table.horizontalHeaderItem(PROGRESS_COL).setToolTip(
        "What the step reported with a '::progress 42' or 'LABDECK_PROGRESS=42' line")
    return table


def color_name(status: str) -> str:
    return status_color(status).name()   # readable on a dark palette too


def _status_brush(status: str) -> QBrush:
    """The pale status background of a matrix cell, made once per status."""
    brush = _BRUSHES.get(status)
    if brush is None:
        color = QColor(status_color(status))
        color.setAlpha(45)
        brush = _BRUSHES[status] = QBrush(color)
    return brush


def _item(table: QTableWidget, row: int, col: int) -> QTableWidgetItem:
    item = table.item(row, col)
    if item is None:
        item = QTableWidgetItem()
        table.setItem(row, col, item)
    return item


def fill_row(table: QTableWidget, row: int, nr: NodeRun, shown_rows: list[tuple]) -> None:
    """Row ``row`` shows ``nr``; ``shown_rows`` remembers what each row shows, to skip unchanged ones."""
    status = nr.status.value
    exit_text = "" if nr.exit_code is None else str(nr.exit_code)
    message = nr.message
    kill = nr.kill_state.value.replace("_", " ") if nr.kill_state else ""
    if kill and kill not in message:
        message += f" ({kill})"
    cells = [nr.node_name, status_label(status), exit_text, fmt_duration(nr.duration_s), str(nr.attempt), message]
    shown = (status, *cells)
    while len(shown_rows) <= row:
        shown_rows.append(())
    if shown_rows[row] == shown:
        return
    shown_rows[row] = shown
    for col, text in enumerate(cells):
        item = _item(table, row, col)
        item.setText(text)
        if col == 0:
            item.setData(Qt.ItemDataRole.UserRole, nr.node_name)
        if col == 1:
            item.setIcon(status_icon(status))
            item.setData(Qt.ItemDataRole.UserRole, status)
            item.setBackground(_status_brush(status))
            item.setToolTip(f"{nr.node_name}: {status_label(status)}")
        if col == 5:
            item.setToolTip(message)


def tick_durations(table: QTableWidget, node_runs: list[NodeRun]) -> None:
    """The duration of each node run still going, as of now (rows in node-run order)."""
    for row, nr in enumerate(node_runs):
        if nr.status.value in ("running", "queued") and row < table.rowCount():
            _item(table, row, DURATION_COL).setText(fmt_duration(nr.duration_s))


def apply_progress(table: QTableWidget, node_runs: list[NodeRun],
                   result: dict[str, tuple[int, str, float | None]]) -> None:
    """Per node: (lines so far, last line, reported percent or None) into the progress columns."""
    for row, nr in enumerate(node_runs):
        if row >= table.rowCount() or nr.node_name not in result:
            continue
        lines, last_line, percent = result[nr.node_name]   # percent None: no progress line, no bar
        status = nr.status.value
        cells = {PROGRESS_COL: "" if percent is None else f"{percent:.0f}%",
                 LINES_COL: f"{lines:,}", LAST_LINE_COL: last_line}
        for col, text in cells.items():
            item = _item(table, row, col)
            if item.text() != text:
                item.setText(text)
                if col == LAST_LINE_COL:
                    item.setToolTip(text)
        item = _item(table, row, PROGRESS_COL)
        item.setData(PERCENT_ROLE, None if percent is None else int(percent))
        item.setData(STATE_ROLE, {"failed": "failed", "cancelled": "cancelled", "timed_out": "failed"}.get(status))


def status_of(table: QTableWidget, node: str) -> str | None:
    for row in range(table.rowCount()):
        if table.item(row, 0).text() == node:
            return table.item(row, 1).data(Qt.ItemDataRole.UserRole)
    return None


def progress_of(table: QTableWidget, node: str) -> tuple[str, str, str] | None:
    """(progress, lines, last line) as the matrix shows them for ``node``."""
    for row in range(table.rowCount()):
        if table.item(row, 0).text() == node:
            return tuple(table.item(row, c).text() if table.item(row, c) else ""  # type: ignore[return-value]
                         for c in (PROGRESS_COL, LINES_COL, LAST_LINE_COL))
    return None
