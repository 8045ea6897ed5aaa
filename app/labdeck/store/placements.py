"""Resources held on nodes, in the catalog: every LabDeck process that places a task records
what it holds there, so the app and a CLI run beside it never overfill the same node. A
check-and-hold is one transaction. Holdings of a process that is gone are dropped."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable

from .catalog import Catalog

Usage = dict[str, dict]  # node -> cpus, memory_mb, gpus, tasks (sums) and gpu_devices (the indexes held)


def hold_where_it_fits(catalog: Catalog, run_id: int, choose: Callable[[Usage], tuple[str, dict] | None]) -> int | None:
    """``choose(usage)`` picks a node and the amounts to hold there (or None); returns the
    holding's id. Reading the usage and recording the choice happen in one transaction."""
    with catalog._tx() as db:
        usage: Usage = {}
        for row in db.execute("SELECT node_name, SUM(cpus), SUM(memory_mb), SUM(gpus), COUNT(*) FROM placements "
                              "GROUP BY node_name").fetchall():
            usage[row[0]] = {"cpus": row[1], "memory_mb": row[2], "gpus": row[3], "tasks": row[4], "gpu_devices": set()}
        for node_name, devices in db.execute("SELECT node_name, gpu_devices FROM placements "
                                             "WHERE gpu_devices != '[]'").fetchall():
            usage[node_name]["gpu_devices"].update(json.loads(devices))
        picked = choose(usage)
        if picked is None:
            return None
        node, amounts = picked
        return db.table("placements").insert({
            "run_id": run_id, "node_name": node, "cpus": amounts.get("cpus", 0),
            "memory_mb": amounts.get("memory_mb", 0), "gpus": amounts.get("gpus", 0),
            "gpu_devices": json.dumps(amounts.get("gpu_devices", [])),
            "owner_pid": os.getpid(), "owner_host": socket.gethostname(), "placed_at": time.time()}).last_pk


def release(catalog: Catalog, holding_id: int) -> None:
    with catalog._tx() as db:
        db.execute("DELETE FROM placements WHERE id = ?", (holding_id,))


def drop_stale(catalog: Catalog, alive: Callable[[int], bool]) -> int:
    """Forget what processes on this host that are gone still held (they crashed mid-task)."""
    host = socket.gethostname()
    rows = catalog._rows("SELECT DISTINCT owner_pid FROM placements WHERE owner_host = ?", (host,))
    dead = [r["owner_pid"] for r in rows if r["owner_pid"] != os.getpid() and not alive(r["owner_pid"])]
    if dead:
        with catalog._tx() as db:
            db.execute(f"DELETE FROM placements WHERE owner_host = ? AND owner_pid IN ({','.join('?' * len(dead))})",
                       (host, *dead))
    return len(dead)
