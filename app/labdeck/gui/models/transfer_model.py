"""TransferTableModel: the transfer queue as rows of (transfer, node) — the file being moved
and its progress, the node's progress over all its files, speed, ETA and state — fed by the
transfer events the bridge delivers; ProgressDelegate draws the two percent columns as bars."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from ..status_style import status_color
from ...core.transfers import TransferFinished, TransferNodeFinished, TransferProgress, TransferQueued

COLUMNS = ["#", "Transfer", "Node", "File", "File %", "Node %", "Speed", "ETA", "State"]
FILE_PCT, NODE_PCT = 4, 5
PERCENT_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2   # queued, running, done, failed, cancelled
_ROOT = QModelIndex()


@dataclass
class TransferRow:
    transfer_id: int
    title: str
    node: str
    file_name: str = ""
    file_pct: int = 0
    node_pct: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    files: str = ""
    speed: float = 0.0
    state: str = "queued"
    error: str = ""
    note: str = ""

    def eta(self) -> str:
        if self.state != "running" or self.speed <= 0 or self.bytes_total <= self.bytes_done:
            return ""
        seconds = (self.bytes_total - self.bytes_done) / self.speed
        return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


class TransferTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[TransferRow] = []
        self._index: dict[tuple[int, str], int] = {}

    # ---- Qt --------------------------------------------------------------------------------

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        row = self.rows[index.row()]
        col = index.column()
        if role == PERCENT_ROLE and col in (FILE_PCT, NODE_PCT):
            return row.file_pct if col == FILE_PCT else row.node_pct
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.error or row.note or row.title
        if role == Qt.ItemDataRole.ForegroundRole and row.state == "failed":
            return status_color("failed")
        if role == STATE_ROLE:
            return row.state
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        speed = f"{human_size(row.speed)}/s" if row.state == "running" and row.speed else ""
        node_text = f"{row.node_pct}% · {row.files}" if row.files else f"{row.node_pct}%"
        if row.state in ("failed", "cancelled") and row.node_pct < 100:
            node_text = f"{row.state} at {node_text}"
        return [str(row.transfer_id), row.title, row.node, row.file_name, f"{row.file_pct}%",
                node_text, speed, row.eta(),
                f"{row.state}: {row.error or row.note}" if row.error or row.note else row.state][col]

    # ---- events ----------------------------------------------------------------------------

    def on_event(self, event) -> None:
        if isinstance(event, TransferQueued):
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(event.nodes) - 1)
            for node in event.nodes:
                self._index[(event.transfer_id, node)] = len(self.rows)
                self.rows.append(TransferRow(event.transfer_id, event.title, node))
            self.endInsertRows()
            return
        if isinstance(event, TransferFinished):
            return
        i = self._index.get((event.transfer_id, event.node))
        if i is None:
            return
        row = self.rows[i]
        if isinstance(event, TransferProgress):
            row.state = "running"
            row.file_name = event.file_name
            row.file_pct = _pct(event.file_done, event.file_total)
            row.node_pct = _pct(event.bytes_done, event.bytes_total)
            row.bytes_done, row.bytes_total = event.bytes_done, event.bytes_total
            row.files = f"{event.files_done}/{event.files_total} files"
            row.speed = event.bytes_per_s
        elif isinstance(event, TransferNodeFinished):
            row.state = "done" if event.ok else ("cancelled" if "cancelled" in event.error else "failed")
            row.error = event.error
            row.note = event.note
            if event.ok:
                row.node_pct = row.file_pct = 100
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def row_of(self, transfer_id: int, node: str) -> TransferRow | None:
        i = self._index.get((transfer_id, node))
        return None if i is None else self.rows[i]


def _pct(done: int, total: int) -> int:
    return 100 if total <= 0 else min(100, int(100 * done / total))


class ProgressDelegate(QStyledItemDelegate):
    """A progress bar from the cell's PERCENT_ROLE, labelled with its display text."""

    def paint(self, painter, option, index) -> None:
        value = index.data(PERCENT_ROLE)
        if value is None:
            return super().paint(painter, option, index)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum, bar.progress = 0, 100, int(value)
        bar.text = index.data(Qt.ItemDataRole.DisplayRole)
        bar.textVisible = True
        # Without State_Horizontal the style draws a vertical bar: a band growing up from the
        # bottom of the cell, through the label.
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.palette = QPalette(option.palette)
        state = index.data(STATE_ROLE)
        if state in ("failed", "cancelled"):  # an ended bar in the status colour, never the "almost done" blue
            bar.palette.setColor(QPalette.ColorRole.Highlight, status_color(state))
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
