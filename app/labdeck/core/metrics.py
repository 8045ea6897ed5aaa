"""A node's resource use at one moment, as percentages, made from a probe's key=value answer.

The probe (executors/posix_shell.py, executors/winrm/helpers.py) reports raw numbers:
``cpu_pct`` (busy share of all CPUs over a short sample), or else ``load`` and ``cpus``;
``memory_mb``/``memory_free_mb``; ``disk_total_mb``/``disk_free_mb``; and with NVIDIA GPUs
``gpu_util`` and ``gpu_mem`` (one percentage per GPU, joined with ';'). A sample keeps only
the percentages, so a day of history per node stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricSample:
    at: float
    cpu: float | None = None       # percent of all CPUs busy
    memory: float | None = None    # percent of memory in use
    disk: float | None = None      # percent of the home/system disk in use
    gpus: tuple[float, ...] = field(default_factory=tuple)   # percent busy, one per GPU

    def gpu_text(self) -> str:
        return ";".join(f"{g:g}" for g in self.gpus)


def _num(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _used_pct(total, free) -> float | None:
    total, free = _num(total), _num(free)
    if not total or free is None or total <= 0:
        return None
    return round(max(0.0, min(100.0, 100.0 * (1 - free / total))), 1)


def percent_list(value) -> tuple[float, ...]:
    """'45;12' (or 45, or '') -> (45.0, 12.0): one value per GPU; unreadable parts are skipped."""
    if value is None or value == "":
        return ()
    parts = str(value).split(";")
    out = [_num(p.strip()) for p in parts]
    return tuple(max(0.0, min(100.0, v)) for v in out if v is not None)


def sample_from_probe(probe: dict, at: float) -> MetricSample:
    cpu = _num(probe.get("cpu_pct"))
    if cpu is None:
        load, cpus = _num(probe.get("load")), _num(probe.get("cpus"))
        cpu = 100.0 * load / cpus if load is not None and cpus else None
    if cpu is not None:
        cpu = round(max(0.0, min(100.0, cpu)), 1)
    return MetricSample(at=at, cpu=cpu, memory=_used_pct(probe.get("memory_mb"), probe.get("memory_free_mb")),
                        disk=_used_pct(probe.get("disk_total_mb"), probe.get("disk_free_mb")),
                        gpus=percent_list(probe.get("gpu_util")))
