"""NodeTableModel: one row per node — a thin adapter over ``Catalog.list_nodes`` plus the
node's live state (busy from the catalog, reachability from NodeSeen events), its last runs
for the recent-runs delegate, and a Gauge per resource (CPU, memory, disk, GPUs: use now and
the last hour of probes, from store/metrics.py) for the resource delegate."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ...core.metrics import MetricSample, sample_from_probe
from ...core.models import Node
from ...store.node_down import NodeDown
from ..status_style import fmt_ago, status_color, status_icon, status_label

RECENT_ROLE = Qt.ItemDataRole.UserRole + 1   # list of (run id, status), oldest first
NODE_ROLE = Qt.ItemDataRole.UserRole + 2     # the Node
METRIC_ROLE = Qt.ItemDataRole.UserRole + 3   # Gauge: the resource's use now (percent) and its last hour

COLUMNS = ["Name", "OS", "Transport", "Tags", "State", "Last seen", "CPU", "Memory", "Disk", "GPU", "Last runs"]
RECENT_COLUMN = COLUMNS.index("Last runs")
STATE_COLUMN = COLUMNS.index("State")
METRIC_COLUMNS = {COLUMNS.index("CPU"): "cpu", COLUMNS.index("Memory"): "memory", COLUMNS.index("Disk"): "disk",
                  COLUMNS.index("GPU"): "gpus"}
FRESH_S = 3 * 3600.0   # an older probe is not shown as the node's use "now"
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole,
                    Qt.ItemDataRole.ForegroundRole, RECENT_ROLE, NODE_ROLE, METRIC_ROLE})


@dataclass(frozen=True)
class Gauge:
    now: tuple[float, ...]            # percent in use now (one value; one per GPU)
    history: tuple[float, ...]        # the last hour, oldest first (GPUs: their mean)
    at: float | None = None           # when ``now`` was measured


def gauge(kind: str, samples: list[MetricSample], probe: dict | None, last_seen: float | None) -> Gauge | None:
    """The gauge of one resource from the stored samples (or, before any, the node's last probe)."""
    def value(s: MetricSample) -> float | None:
        if kind == "gpus":
            return sum(s.gpus) / len(s.gpus) if s.gpus else None
        return getattr(s, kind)
    history = tuple(v for v in (value(s) for s in samples) if v is not None)
    latest = samples[-1] if samples else (sample_from_probe(probe, last_seen or 0.0) if probe else None)
    if latest is None or not latest.at or time.time() - latest.at > FRESH_S:
        return Gauge((), history) if history else None
    now = latest.gpus if kind == "gpus" else ((getattr(latest, kind),) if getattr(latest, kind) is not None else ())
    if not now and not history:
        return None
    return Gauge(tuple(now), history, latest.at)


def _gb(mb) -> str:
    return f"{mb / 1024:.1f} GB" if isinstance(mb, (int, float)) else "—"


def node_state(node: Node, busy: int, seen: dict[str, tuple[bool, str, float]], recent: list[tuple[int, str]],
               lost_at: float | None = None, down: NodeDown | None = None) -> tuple[str, str]:
    """(state, explanation): busy, unreachable, idle or unknown. The newest word wins: a node
    that failed to answer, then answered a probe (from this window or any other process, which
    moves ``last_seen``), is idle again. ``down``: the engine's record that the node is down
    ("down since 14:05: connection refused"), until a probe clears it."""
    if busy:
        return "busy", f"{busy} node run(s) in progress"
    if down is not None:
        ok, _, when = seen.get(node.name, (False, "", 0.0))
        if not (ok and when >= down.since):
            return "unreachable", down.text()
    answered = node.last_seen or 0.0
    if node.name in seen:
        ok, message, when = seen[node.name]
        if ok or when >= answered:
            return ("idle", "answered just now") if ok else ("unreachable", message)
    if recent and recent[-1][1] == "unreachable" and (lost_at is None or lost_at >= answered):
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
        self._seen: dict[str, tuple[bool, str, float]] = {}
        self._lost_at: dict[str, float] = {}   # when each node's last unreachable node run ended
        self._down: dict[str, NodeDown] = {}   # the engine's record of nodes found down (any process)
        self._metrics: dict[str, list[MetricSample]] = {}
        self._cache: list[tuple | None] = []   # per row: texts, tooltips, state icon, state colour, recent, gauges


    # ---- updates ---------------------------------------------------------------------------

    def set_data(self, nodes: list[Node], recent: dict[str, list[tuple[int, str]]], busy: dict[str, int],
                 metrics: dict[str, list[MetricSample]] | None = None, lost_at: dict[str, float] | None = None,
                 down: dict[str, NodeDown] | None = None) -> None:
        self.beginResetModel()
        self._nodes, self._recent, self._busy = list(nodes), recent, busy
        self._down = down or {}
        self._metrics = metrics or {}
        self._lost_at = lost_at or {}
        self._cache = [None] * len(self._nodes)
        self.endResetModel()

    def note_seen(self, node: str, reachable: bool, message: str) -> None:
        self._seen[node] = (reachable, message, time.time())
        for row, n in enumerate(self._nodes):
            if n.name == node:
                self._cache[row] = None
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def node_at(self, row: int) -> Node:
        return self._nodes[row]

    def state_of(self, name: str) -> str:
        for n in self._nodes:
            if n.name == name:
                return node_state(n, self._busy.get(n.name, 0), self._seen, self._recent.get(n.name, []),
                                  self._lost_at.get(n.name), self._down.get(n.name))[0]
        return "unknown"

    def down_text(self, name: str) -> str:
        """"down since 14:05: <reason>" while the node's state comes from the engine's record, else ""."""
        for n in self._nodes:
            if n.name == name and name in self._down:
                state, why = node_state(n, self._busy.get(name, 0), self._seen, self._recent.get(name, []),
                                        self._lost_at.get(name), self._down[name])
                return why if state == "unreachable" and why == self._down[name].text() else ""
        return ""

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
        if role == METRIC_ROLE:
            return cached[5].get(col)
        if role == NODE_ROLE:
            return self._nodes[row]
        if col != STATE_COLUMN:
            return None
        return cached[2] if role == Qt.ItemDataRole.DecorationRole else cached[3]

    def _compute(self, row: int) -> tuple:
        node = self._nodes[row]
        recent = self._recent.get(node.name, [])
        state, why = node_state(node, self._busy.get(node.name, 0), self._seen, recent, self._lost_at.get(node.name),
                                self._down.get(node.name))
        texts = [self._display(node, col, recent) for col in range(len(COLUMNS))]
        tips = [self._tooltip(node, col, recent) for col in range(len(COLUMNS))]
        texts[STATE_COLUMN], tips[STATE_COLUMN] = state, why
        down = self._down.get(node.name)
        if state == "unreachable" and down is not None and why == down.text():  # the engine's record: since when
            texts[STATE_COLUMN] = down.short_text()
        icon = status_icon({"unreachable": "unreachable", "busy": "running", "idle": "succeeded"}.get(state, "pending"))
        color = status_color("unreachable") if state == "unreachable" else None
        samples = self._metrics.get(node.name, [])
        gauges = {col: gauge(kind, samples, node.probe, node.last_seen) for col, kind in METRIC_COLUMNS.items()}
        for col, g in gauges.items():
            if g is not None and g.now:
                use = " · ".join(f"{v:.0f}%" for v in g.now)
                tips[col] = f"{use} in use" + (f" · {texts[col]}" if texts[col] not in (None, "—") else "") + \
                    (f"\nlast hour: {len(g.history)} probes, peak {max(g.history):.0f}%" if g.history else "")
        return texts, tips, icon, color, recent, gauges

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
        if col == 9:
            return f"{p['gpus']} GPU" if p.get("gpus") else "—"
        return None

    def _tooltip(self, node: Node, col: int, recent) -> str | None:
        if col == RECENT_COLUMN:
            if not recent:
                return "No runs on this node yet"
            return "Last runs, oldest → newest:\n" + "\n".join(f"run #{rid}: {status_label(s)}" for rid, s in recent)
        if col == 0:
            where = f"{node.name}: {node.username + '@' if node.username else ''}{node.host or 'this computer'}"
            return f"{where} · {self._display(node, 1, recent)} · {self._display(node, 2, recent)}"
        if col == 3:
            return "Tags select nodes in job targets, e.g. tag:gpu"
        if col == 5 and isinstance((node.probe or {}).get("uptime_s"), int):
            return f"up {uptime_text(node.probe['uptime_s'])} at the last probe"
        if col == 6 and (node.probe or {}).get("slurm_load"):
            return "Partitions (free CPUs and GPUs at the last test):\n" + node.probe["slurm_load"].replace("; ", "\n")
        return None


def uptime_text(seconds: int) -> str:
    """A probe's uptime in seconds -> '3 d 4 h', '5 h 12 min', '7 min'."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
