"""What ``node test`` and the nodes grid show about a Slurm cluster: its Slurm version and, per
partition, its nodes, free CPUs and free GPUs (``sinfo``, one line per node and partition)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SINFO_COMMAND = ("sinfo --version; sinfo -h -N -O "
                 "'PartitionName:|,NodeList:|,StateCompact:|,CPUsState:|,Gres:|,GresUsed:|,Memory:|'")
_GPU_COUNT = re.compile(r"^gpu(?::[^:(]+)?:(\d+)")


@dataclass
class Partition:
    name: str
    nodes: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)   # node state -> how many nodes
    cpus_total: int = 0
    cpus_idle: int = 0
    gpus_total: int = 0
    gpus_used: int = 0
    memory_mb: int = 0                                     # summed over its nodes

    @property
    def gpus_free(self) -> int:
        return max(0, self.gpus_total - self.gpus_used)

    def load(self) -> str:
        """One line: "debug: 1 node, 2/2 CPUs free, 2/2 GPUs free"."""
        nodes = f"{len(self.nodes)} node{'s' if len(self.nodes) != 1 else ''}"
        text = f"{self.name}: {nodes}, {self.cpus_idle}/{self.cpus_total} CPUs free"
        if self.gpus_total:
            text += f", {self.gpus_free}/{self.gpus_total} GPUs free"
        down = sum(n for s, n in self.states.items() if s.rstrip("*~#!%$@^-") in ("down", "drain", "drained",
                                                                                    "fail", "inval"))
        return text + (f", {down} down or drained" if down else "")


@dataclass
class ClusterInfo:
    version: str = ""
    partitions: list[Partition] = field(default_factory=list)
    nodes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # node -> CPUs, memory MB, GPUs

    def totals(self) -> dict[str, int]:
        """CPUs, memory and GPUs over all nodes (each counted once): what LabDeck may place there."""
        return {"cpus": sum(v[0] for v in self.nodes.values()), "memory_mb": sum(v[1] for v in self.nodes.values()),
                "gpus": sum(v[2] for v in self.nodes.values())}

    def load_text(self) -> str:
        return "; ".join(p.load() for p in self.partitions)


def gpu_count(gres: str) -> int:
    total = 0
    for entry in re.split(r",(?![^(]*\))", gres or ""):
        match = _GPU_COUNT.match(entry.strip())
        if match:
            total += int(match.group(1))
    return total


def parse_sinfo(text: str) -> ClusterInfo:
    info = ClusterInfo()
    by_name: dict[str, Partition] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("slurm"):
            info.version = line.split()[-1]
            continue
        parts = line.split("|")
        if len(parts) < 7 or not parts[0]:
            continue
        name, node, state, cpus, gres, gres_used, memory = (p.strip() for p in parts[:7])
        partition = by_name.setdefault(name, Partition(name))
        if node in partition.nodes:
            continue
        partition.nodes.append(node)
        partition.states[state] = partition.states.get(state, 0) + 1
        counts = [int(c) if c.isdigit() else 0 for c in cpus.split("/")]
        if len(counts) == 4:
            partition.cpus_idle += counts[1]
            partition.cpus_total += counts[3]
        partition.gpus_total += gpu_count(gres)
        partition.gpus_used += gpu_count(gres_used)
        partition.memory_mb += int(memory) if memory.isdigit() else 0
        info.nodes[node] = (counts[3] if len(counts) == 4 else 0, int(memory) if memory.isdigit() else 0,
                            gpu_count(gres))
    info.partitions = list(by_name.values())
    return info
