"""Runs that wait for another run to end before they start (``labdeck run B --after 42``, a
schedule's ``after:``). A wait is waiting, then started (with the run it became) or dropped
(the run it waited for failed and success was required, or it was cancelled)."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass

from ..core.models import Trigger
from .catalog import Catalog


@dataclass
class RunWait:
    id: int
    job_name: str
    options: dict[str, str]
    targets: str | None
    trigger: Trigger
    after_run_id: int
    require_ok: bool
    schedule_id: int | None
    owner_pid: int
    owner_host: str
    created_at: float
    state: str          # waiting, started, dropped
    run_id: int | None
    note: str

    @property
    def reason(self) -> str:
        return f"waiting for run {self.after_run_id}" + (" to succeed" if self.require_ok else " to end")


def _from_row(row: dict) -> RunWait:
    return RunWait(id=row["id"], job_name=row["job_name"], options=json.loads(row["options"]), targets=row["targets"],
                   trigger=Trigger(row["trigger"]), after_run_id=row["after_run_id"], require_ok=bool(row["require_ok"]),
                   schedule_id=row["schedule_id"], owner_pid=row["owner_pid"], owner_host=row["owner_host"],
                   created_at=row["created_at"], state=row["state"], run_id=row["run_id"], note=row["note"])


def add_wait(catalog: Catalog, job_name: str, options: dict[str, str], targets: str | None, trigger: Trigger,
             after_run_id: int, require_ok: bool, schedule_id: int | None = None) -> RunWait:
    with catalog._tx() as db:
        wait_id = db["run_waits"].insert({
            "job_name": job_name, "options": json.dumps(options), "targets": targets, "trigger": str(trigger),
            "after_run_id": after_run_id, "require_ok": int(require_ok), "schedule_id": schedule_id,
            "owner_pid": os.getpid(), "owner_host": socket.gethostname(), "created_at": time.time()}).last_pk
    return get_wait(catalog, wait_id)


def get_wait(catalog: Catalog, wait_id: int) -> RunWait:
    return _from_row(catalog._rows("SELECT * FROM run_waits WHERE id = ?", (wait_id,))[0])


def waiting(catalog: Catalog) -> list[RunWait]:
    return [_from_row(r) for r in catalog._rows("SELECT * FROM run_waits WHERE state = 'waiting' ORDER BY id")]


def finish_wait(catalog: Catalog, wait_id: int, state: str, run_id: int | None = None, note: str = "") -> bool:
    """Leave the waiting state (once: False if another process got there first)."""
    with catalog._tx() as db:
        changed = db.execute("UPDATE run_waits SET state = ?, run_id = ?, note = ? WHERE id = ? AND state = 'waiting'",
                             (state, run_id, note, wait_id)).rowcount
    return changed == 1


def adopt(catalog: Catalog, wait_id: int) -> None:
    with catalog._tx() as db:
        db.execute("UPDATE run_waits SET owner_pid = ?, owner_host = ? WHERE id = ?",
                   (os.getpid(), socket.gethostname(), wait_id))
