"""A compact history of each node's resource use (one row of percentages per probe), kept
for a day: the nodes dashboard draws its sparklines and the node panel its charts from it.

``record`` runs inside the transaction of ``Catalog.mark_node_seen``, so every probe — the
engine's periodic one or ``labdeck node test`` — lands here, whichever process made it.
"""

from __future__ import annotations

import time

from ..core.metrics import MetricSample, percent_list, sample_from_probe

KEEP_S = 24 * 3600.0


def record(db, node_name: str, when: float, probe: dict) -> MetricSample | None:
    """Store the probe's percentages (``db``: the open sqlite_utils transaction); drop the
    node's samples older than a day. Nothing is stored when the probe has no numbers."""
    sample = sample_from_probe(probe, when)
    if sample.cpu is None and sample.memory is None and sample.disk is None and not sample.gpus:
        return None
    db.execute("INSERT INTO node_metrics (node_name, at, cpu, memory, disk, gpus) VALUES (?,?,?,?,?,?)",
               (node_name, when, sample.cpu, sample.memory, sample.disk, sample.gpu_text()))
    db.execute("DELETE FROM node_metrics WHERE node_name = ? AND at < ?", (node_name, when - KEEP_S))
    return sample


def _sample(row: dict) -> MetricSample:
    return MetricSample(at=row["at"], cpu=row["cpu"], memory=row["memory"], disk=row["disk"],
                        gpus=percent_list(row["gpus"]))


class MetricStore:
    def __init__(self, catalog):
        self.catalog = catalog

    def history(self, node_name: str, seconds: float = KEEP_S, now: float | None = None) -> list[MetricSample]:
        """The node's samples of the last ``seconds``, oldest first."""
        since = (now or time.time()) - seconds
        rows = self.catalog._rows("SELECT at, cpu, memory, disk, gpus FROM node_metrics WHERE node_name = ? AND at >= ?"
                                  " ORDER BY at", (node_name, since))
        return [_sample(r) for r in rows]

    def histories(self, seconds: float = 3600.0, now: float | None = None) -> dict[str, list[MetricSample]]:
        """Every node's samples of the last ``seconds`` (one query for the whole grid)."""
        since = (now or time.time()) - seconds
        rows = self.catalog._rows("SELECT node_name, at, cpu, memory, disk, gpus FROM node_metrics WHERE at >= ?"
                                  " ORDER BY node_name, at", (since,))
        result: dict[str, list[MetricSample]] = {}
        for r in rows:
            result.setdefault(r["node_name"], []).append(_sample(r))
        return result

    def forget(self, node_name: str) -> None:
        with self.catalog._tx() as db:
            db.execute("DELETE FROM node_metrics WHERE node_name = ?", (node_name,))
