"""Resource fitting: each node's capacity (set by hand, else from its last probe), what the
tasks of every LabDeck process on this catalog hold there, and where a new request fits — or, when it does not, a
reason a person can read ("needs 2 GPUs; none free")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.gpus import device_indexes
from ..core.job_plan import Resources
from ..core.models import Node
from ..store import placements
from ..store.catalog import Catalog
from .reconcile import pid_alive

_DIMENSIONS = (("cpus", "CPUs"), ("memory_mb", "MB memory"), ("gpus", "GPUs"))
_NOTHING = {"cpus": 0, "memory_mb": 0, "gpus": 0, "tasks": 0}


def node_capacity(node: Node) -> dict[str, float | None]:
    """cpus, memory_mb, gpus of a node; None where neither the user nor a probe said."""
    probe = node.probe or {}
    cap = node.capacity

    def pick(by_hand, probed):
        if by_hand is not None:
            return by_hand
        return probed if isinstance(probed, (int, float)) else None

    return {"cpus": pick(cap.cpus, probe.get("cpus")), "memory_mb": pick(cap.memory_mb, probe.get("memory_mb")),
            "gpus": pick(cap.gpus, probe.get("gpus"))}


@dataclass
class Placement:
    node: Node | None
    reason: str = ""  # why not, when node is None
    gpu_devices: list[int] = field(default_factory=list)  # the node's GPUs the task holds, by index


class Ledger:
    """What runs where: the holdings every LabDeck process on this catalog recorded
    (store/placements.py), so a CLI run beside the app never overfills a node. Thread-safe."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._held: dict[object, int] = {}
        self._lock = threading.Lock()
        placements.drop_stale(catalog, pid_alive)

    def never_fits(self, candidates: list[Node], request: Resources) -> str | None:
        """A reason when no candidate could hold the request even with nothing else running."""
        if not candidates:
            return "no node matches its targets"
        if request.is_empty():
            return None
        notes = []
        for node in candidates:
            capacity = node_capacity(node)
            if _shortfall(capacity, _NOTHING, request) is None:
                return None
            have, unknown = [], []
            for key, label in _DIMENSIONS:
                if getattr(request, key):
                    value = capacity[key]
                    if value is None:
                        unknown.append(label)
                    else:
                        have.append(f"{value:g} {label[:-1] if value == 1 and label.endswith('s') else label}")
            text = f"{node.name} has {', '.join(have)}" if have else node.name
            if unknown:
                text += (" and" if have else "") + f" has no known {' or '.join(unknown)} "
                text += f"(test the node, or set them: labdeck node capacity {node.name})"
            notes.append(text)
        return f"needs {request.describe()}; no target node has that ({'; '.join(notes[:4])})"

    def place(self, key: object, run_id: int, candidates: list[Node], request: Resources,
              excluded: Callable[[str], str | None] = lambda name: None) -> Placement:
        """Hold the request on the candidate (least loaded first) where it fits now.
        ``excluded(node)``: why a node may not be used by this task (None: it may)."""
        found: dict = {"excluded": [], "shortfalls": [], "node": None, "devices": []}

        def choose(usage: dict) -> tuple[str, dict] | None:
            loads = []
            for node in candidates:
                why = excluded(node.name)
                if why:
                    found["excluded"].append(why)
                    continue
                used = usage.get(node.name, _NOTHING)
                short = _shortfall(node_capacity(node), used, request)
                devices: list[int] = []
                if short is None and request.gpus:
                    free = [d for d in device_indexes(node.probe or {}, node_capacity(node)["gpus"])
                            if d not in used.get("gpu_devices", ())]
                    devices = free[:int(request.gpus)]
                    if len(devices) < request.gpus:
                        short = f"{len(free)} of its GPUs free"
                if short is None:
                    loads.append((_load(used, node_capacity(node)), used.get("tasks", 0), node.name, node, devices))
                else:
                    found["shortfalls"].append(short)
            if not loads:
                return None
            best = min(loads, key=lambda x: x[:3])
            found["node"], found["devices"] = best[3], best[4]
            return found["node"].name, {**{k: getattr(request, k) for k, _ in _DIMENSIONS}, "gpu_devices": best[4]}

        holding = placements.hold_where_it_fits(self._catalog, run_id, choose)
        if holding is not None:
            with self._lock:
                self._held[key] = holding
            return Placement(found["node"], gpu_devices=found["devices"])
        if len(found["excluded"]) == len(candidates):
            reasons = sorted(set(found["excluded"]))
            return Placement(None, reasons[0] if len(reasons) == 1 else "; ".join(reasons))
        shortfalls = found["shortfalls"]
        return Placement(None, f"needs {request.describe()}; none free" +
                         (f" ({shortfalls[0]})" if len(shortfalls) == 1 else ""))

    @staticmethod
    def could_hold(node: Node, request: Resources) -> bool:
        """The node could hold the request with nothing else running."""
        return _shortfall(node_capacity(node), _NOTHING, request) is None

    def release_all(self) -> None:
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for holding in held:
            placements.release(self._catalog, holding)

    def release(self, key: object) -> None:
        with self._lock:
            holding = self._held.pop(key, None)
        if holding is not None:
            placements.release(self._catalog, holding)


def _shortfall(capacity: dict, used: dict, request: Resources) -> str | None:
    """None if the request fits beside what is used; else what is missing, in words."""
    for key, label in _DIMENSIONS:
        want = getattr(request, key)
        if not want:
            continue
        have = capacity[key]
        if have is None:
            return f"{label} unknown (set the node's capacity or test the node)"
        free = have - used[key]
        if want > free:
            return f"{max(free, 0):g} of {have:g} {label} free"
    return None


def _load(used: dict, capacity: dict) -> float:
    shares = [used[k] / capacity[k] for k, _ in _DIMENSIONS if capacity[k]]
    return max(shares, default=0.0)
