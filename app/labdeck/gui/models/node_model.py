"""NodeTableModel: one row per node — a thin adapter over ``Catalog.list_nodes`` plus the
node's live state (busy from the catalog, reachability from NodeSeen events) and its last
runs for the recent-runs delegate."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ...core.models import Node
from ..status_style import fmt_ago, status_color, status_icon, status_label

RECENT_ROLE = Qt.ItemDataRole.UserRole + 1   # list of (run id, status), oldest first
NODE_ROLE = Qt.ItemDataRole.UserRole + 2     # the Node

COLUMNS = ["Name", "OS", "Transport", "Tags", "State", "Last seen", "CPU", "Memory", "Disk", "Last runs"]
RECENT_COLUMN = COLUMNS.index("Last runs")
STATE_COLUMN = COLUMNS.index("State")
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole,
                    Qt.ItemDataRole.ForegroundRole, RECENT_ROLE, NODE_ROLE})


def _gb(mb) -> str:
    return f"{mb / 1024:.1f} GB" if isinstance(mb, (int, float)) else "—"


def node_state(node: Node, busy: int, seen: dict[str, tuple[bool, str]], recent: list[tuple[int, str]]) -> tuple[str, str]:
    """(state, explanation): busy, unreachable, idle or unknown."""
    if busy:
        return "busy", f"{busy} node run(s) in progress"
    if node.name in seen:
        ok, message = seen[node.name]
        return ("idle", "answered just now") if ok else ("unreachable", message)
    if recent and recent[-1][1] == "unreachable":
        return "unreachable", "its last run could not reach it"
    if node.last_seen:
        return "idle", f"last answered {fmt_ago(node.last_seen)}"
    return "unknown", "not contacted yet — press Test"


class NodeTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._nodes: list[Node] = []
        self._recent: dict[str, list[tuple[int, str]]] = {}
        self._busy: dict[str, int] = {}
        self._seen: dict[str, tuple[bool, str]] = {}
        self._cache: list[tuple | None] = []   # per row: texts, tooltips, state icon, state colour


    # ---- updates ---------------------------------------------------------------------------

    def set_data(self, nodes: list[Node], recent: dict[str, list[tuple[int, str]]], busy: dict[str, int]) -> None:
        self.beginResetModel()
        self._nodes, self._recent, self._busy = list(nodes), recent, busy
        self._cache = [None] * len(self._nodes)
        self.endResetModel()

    def note_seen(self, node: str, reachable: bool, message: str) -> None:
        self._seen[node] = (reachable, message)
        for row, n in enumerate(self._nodes):
            if n.name == node:
                self._cache[row] = None
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def node_at(self, row: int) -> Node:
        return self._nodes[row]

    def state_of(self, name: str) -> str:
        for n in self._nodes:
            if n.name == name:
                return node_state(n, self._busy.get(n.name, 0), self._seen, self._recent.get(n.name, []))[0]
        return "unknown"

    # ---- Qt model API ------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._nodes)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        # Views ask for many roles per cell (and every cell when sizing columns to their
        # contents): answer from a per-row cache computed once per refresh.
        if role not in _ROLES or not index.isValid():
            return None
        row = index.row()
        cached = self._cache[row]
        if cached is None:
            cached = self._cache[row] = self._compute(row)
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cached[0][col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return cached[1][col]
        if role == RECENT_ROLE:
            return cached[4]
        if role == NODE_ROLE:
            return self._nodes[row]
        if col != STATE_COLUMN:
            return None
        return cached[2] if role == Qt.ItemDataRole.DecorationRole else cached[3]

    def _compute(self, row: int) -> tuple:
        node = self._nodes[row]
        recent = self._recent.get(node.name, [])
        state, why = node_state(node, self._busy.get(node.name, 0), self._seen, recent)
        texts = [self._display(node, col, recent) for col in range(len(COLUMNS))]
        tips = [self._tooltip(node, col, recent) for col in range(len(COLUMNS))]
        texts[STATE_COLUMN], tips[STATE_COLUMN] = state, why
        icon = status_icon({"unreachable": "unreachable", "busy": "running", "idle": "succeeded"}.get(state, "pending"))
        color = status_color("unreachable") if state == "unreachable" else None
        return texts, tips, icon, color, recent

    def _display(self, node: Node, col: int, recent) -> str | None:
        p = node.probe or {}
        if col == 0:
            return node.name
        if col == 1:
            if p.get("slurm_version"):
                return f"Slurm {p['slurm_version']} cluster"
            if p.get("os"):
                return f"{p['os']} {p.get('os_release', '')}".strip()
            return node.os_family or "—"
        if col == 2:
            where = "" if node.transport == "local" else f"  {node.host}:{node.effective_port}"
            return f"{node.transport}{where}"
        if col == 3:
            return ", ".join(node.tags)
        if col == 5:
            return fmt_ago(node.last_seen)
        if col == 6:
            if p.get("slurm_load"):  # a cluster: its partitions' load from the last test
                return p["slurm_load"]
            if "cpus" not in p:
                return "—"
            load = f" · load {p['load']}" if "load" in p else ""
            return f"{p['cpus']} cpu{load}"
        if col == 7:
            if "memory_mb" not in p:
                return "—"
            return f"{_gb(p.get('memory_free_mb'))} free / {_gb(p['memory_mb'])}"
        if col == 8:
            if "disk_total_mb" not in p:
                return "—"
            return f"{_gb(p.get('disk_free_mb'))} free / {_gb(p['disk_total_mb'])}"
        return None

    def _tooltip(self, node: Node, col: int, recent) -> str | None:
        if col == RECENT_COLUMN:
            if not recent:
                return "No runs on this node yet"
            return "Last runs, oldest → newest:\n" + "\n".join(f"run #{rid}: {status_label(s)}" for rid, s in recent)
        if col == 0:
            return f"{node.name}: {node.username + '@' if node.username else ''}{node.host or 'this computer'}"
        if col == 3:
            return "Tags select nodes in job targets, e.g. tag:gpu"
        if col == 6 and (node.probe or {}).get("slurm_load"):
            return "Partitions (free CPUs and GPUs at the last test):\n" + node.probe["slurm_load"].replace("; ", "\n")
        return None
