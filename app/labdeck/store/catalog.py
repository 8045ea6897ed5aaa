"""The SQLite catalog: nodes, accepted host keys, jobs, runs and node runs.

One connection per Catalog, shared by the engine's threads under a lock; WAL mode so a
second process (the CLI beside the GUI) can read and write the same file. Every change is
one transaction, so an error never leaves a half-written record.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from ..core.errors import AlreadyExists, CatalogError, NotFound
from ..core.job_refs import check_references, referenced
from ..core.models import Job, Node, NodeRun, Run, Trigger
from ..core.status import KillState, NodeRunStatus, RunStatus
from . import metrics, migrations
from .catalog_file import damaged_message, refuse_empty_file
from .disk_space import DiskFull, SpaceGuard, is_disk_full, looks_full, retry_once_when_full
from .records import job_from_row, job_to_row, node_from_row, node_run_from_row, node_to_row, run_from_row


class Catalog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self.space = SpaceGuard(self.path.parent)
        refuse_empty_file(self.path)
        conn = None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
            self.db = sqlite_utils.Database(conn)
            migrations.migrate(conn, self.path)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if not (is_disk_full(exc) or looks_full(self.path.parent)):
                raise CatalogError(damaged_message(self.path, str(exc))) from exc
            self._open_for_reading_only(exc)
            return
        self.space.ensure_reserve()

    def _open_for_reading_only(self, cause: Exception) -> None:
        """A full disk has no room for SQLite's WAL files: open the file as it is, for reading
        (lists, logs, runs), and refuse every change with the reason."""
        self.space.full.set()
        try:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False,
                                   isolation_level=None)
            if migrations.current_version(conn) != migrations.schema_version():
                raise sqlite3.OperationalError("the catalog needs an upgrade, which needs room")
        except sqlite3.DatabaseError as exc:
            raise DiskFull(f"{self.space.message}: cannot open the catalog {self.path} ({cause}); "
                           "free space there and run again") from exc
        self._conn = conn
        self.db = sqlite_utils.Database(conn)
        self.read_only_reason = f"{self.space.message}; nothing can be changed until there is room (free space there)"

    def data_version(self) -> int:
        """SQLite's counter of commits made by other connections (another LabDeck process, the
        CLI): a cheap way for the window to notice that the catalog changed under it."""
        with self._lock:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    read_only_reason: str | None = None

    # ---- for store modules only ---------------------------------------------------------
    # ``_tx`` (one write transaction) and ``_rows`` (a read) are the store package's own API: the
    # modules of store/ build their SQL on them; every other layer calls a named store function
    # (tests/unit/test_layers.py fails on a use outside store/).

    @contextmanager
    def _tx(self) -> Iterator[sqlite_utils.Database]:
        if self.read_only_reason:
            raise DiskFull(self.read_only_reason)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self.db
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:  # SQLite may already have rolled back (a full disk at COMMIT)
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if is_disk_full(exc) or (isinstance(exc, sqlite3.OperationalError) and looks_full(self.path.parent)):
                    self.space.hit()  # the reserve goes, so recording the outcome can still succeed
                    raise DiskFull(f"{self.space.message}; nothing was changed (free space there)") from exc
                raise

    def _rows(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        with self._lock:
            return list(self.db.query(sql, params))

    # ---- settings ----------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.table("settings").upsert({"key": key, "value": value}, pk="key")

    # ---- nodes -------------------------------------------------------------------------

    def add_node(self, node: Node) -> Node:
        with self._tx() as db:
            if self._find_id("nodes", node.name) is not None:
                raise AlreadyExists(f"a node named '{node.name}' already exists (remove it first or pick another name)")
            row = node_to_row(node) | {"created_at": time.time()}
            node.id = db.table("nodes").insert(row).last_pk
        return node

    def ensure_node_name_free(self, name: str) -> None:
        with self._lock:
            if self._find_id("nodes", name) is not None:
                raise AlreadyExists(f"a node named '{name}' already exists (remove it first or pick another name)")

    def update_node(self, node: Node) -> None:
        with self._tx() as db:
            db.table("nodes").update(self._require_id("nodes", node.name, "node"), node_to_row(node))

    def get_node(self, name: str) -> Node:
        rows = self._rows("SELECT * FROM nodes WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(n.name for n in self.list_nodes()) or "none yet"
            raise NotFound(f"no node named '{name}' (known nodes: {known})")
        return node_from_row(rows[0])

    def list_nodes(self) -> list[Node]:
        return [node_from_row(r) for r in self._rows("SELECT * FROM nodes ORDER BY name")]

    def remove_node(self, name: str) -> None:
        with self._tx() as db:
            db.table("nodes").delete(self._require_id("nodes", name, "node"))

    def mark_node_seen(self, name: str, when: float | None = None, probe: dict | None = None,
                       os_family: str | None = None) -> None:
        with self._tx() as db:
            node_id = self._find_id("nodes", name)
            if node_id is None:
                return
            changes: dict = {"last_seen": when or time.time()}
            if probe is not None:
                changes["probe"] = json.dumps(probe)
                metrics.record(db, name, changes["last_seen"], probe)
            if os_family:
                changes["os_family"] = os_family
            db.table("nodes").update(node_id, changes)

    def import_nodes(self, nodes: list[Node], host_keys: dict[str, tuple[str, str, str]],
                     replace: bool = False) -> None:
        """Add (or, with ``replace``, overwrite) many nodes and their accepted host keys
        (name -> (type, base64, fingerprint)) in one transaction: all of them or none. A
        replaced node keeps its id, probe and last-seen time; its old host keys go."""
        with self._tx() as db:
            now = time.time()
            for node in nodes:
                node_id = self._find_id("nodes", node.name)
                if node_id is not None and not replace:
                    raise AlreadyExists(f"a node named '{node.name}' already exists (import with --replace to "
                                        f"overwrite it)")
                row = node_to_row(node)
                if node_id is None:
                    node.id = db.table("nodes").insert(row | {"created_at": now}).last_pk
                else:
                    keep = ("probe", "last_seen", "os_family")
                    db.table("nodes").update(node_id, {k: v for k, v in row.items() if k not in keep})
                    db.execute("DELETE FROM host_keys WHERE node_id = ?", (node_id,))
                    node.id = node_id
                if node.name in host_keys:
                    key_type, key_b64, fingerprint = host_keys[node.name]
                    db.table("host_keys").insert({"node_id": node.id, "key_type": key_type, "key_b64": key_b64,
                                            "fingerprint": fingerprint, "accepted_at": now})

    # ---- host keys ---------------------------------------------------------------------

    def host_keys(self, node_name: str) -> dict[str, tuple[str, str]]:
        """key type -> (base64 key, fingerprint) accepted for the node."""
        rows = self._rows(
            "SELECT k.key_type, k.key_b64, k.fingerprint FROM host_keys k JOIN nodes n ON n.id = k.node_id "
            "WHERE n.name = ?", (node_name,))
        return {r["key_type"]: (r["key_b64"], r["fingerprint"]) for r in rows}

    def accept_host_key(self, node_name: str, key_type: str, key_b64: str, fingerprint: str,
                        replace: bool = False) -> None:
        with self._tx() as db:
            node_id = self._require_id("nodes", node_name, "node")
            if replace:
                db.execute("DELETE FROM host_keys WHERE node_id = ?", (node_id,))
            db.table("host_keys").upsert(
                {"node_id": node_id, "key_type": key_type, "key_b64": key_b64,
                 "fingerprint": fingerprint, "accepted_at": time.time()},
                pk=("node_id", "key_type"))

    def forget_host_keys(self, node_name: str) -> None:
        """Drop every host key accepted for the node (its next contact asks again)."""
        with self._tx() as db:
            db.execute("DELETE FROM host_keys WHERE node_id = ?", (self._require_id("nodes", node_name, "node"),))

    # ---- jobs --------------------------------------------------------------------------

    def add_job(self, job: Job, replace: bool = False) -> Job:
        from .jobfile import check_job  # pydantic and PyYAML: loaded by the first job written, not by every read
        check_job(job)  # the job file schema, whichever way the job came (file, flags, the app)
        if referenced(job):  # a job that runs others: they exist, and no chain comes back to it
            check_references(job, {j.name: j for j in self.list_jobs()})
        with self._tx() as db:
            existing = self._find_id("jobs", job.name)
            now = time.time()
            if existing is not None and not replace:
                raise AlreadyExists(f"a job named '{job.name}' already exists "
                                    "(remove it first, or import with --replace)")
            if existing is not None:
                db.table("jobs").update(existing, job_to_row(job) | {"updated_at": now})
                job.id = existing
            else:
                job.id = db.table("jobs").insert(job_to_row(job) | {"created_at": now, "updated_at": now}).last_pk
        return job

    def get_job(self, name: str) -> Job:
        rows = self._rows("SELECT * FROM jobs WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(j.name for j in self.list_jobs()) or "none yet"
            raise NotFound(f"no job named '{name}' (known jobs: {known})")
        return job_from_row(rows[0])

    def list_jobs(self, project: str | None = None) -> list[Job]:
        if project:
            return [job_from_row(r) for r in self._rows("SELECT * FROM jobs WHERE project = ? ORDER BY name",
                                                        (project,))]
        return [job_from_row(r) for r in self._rows("SELECT * FROM jobs ORDER BY name")]

    def remove_job(self, name: str) -> None:
        with self._tx() as db:
            db.table("jobs").delete(self._require_id("jobs", name, "job"))

    # ---- runs --------------------------------------------------------------------------

    def create_run(self, job_name: str, job_id: int | None, trigger: Trigger, options: dict[str, str],
                   targets: str, node_names: list[str], log_path_for,
                   extra: dict | None = None) -> tuple[Run, list[NodeRun]]:
        """A run and one pending node run per node, in one transaction. ``extra``: schedule_id,
        scheduled_for, note, restarts, parent_run_id."""
        with self._tx() as db:
            now = time.time()
            run_id = db.table("runs").insert({
                "job_id": job_id, "job_name": job_name, "trigger": str(trigger),
                "status": str(RunStatus.RUNNING), "options": json.dumps(options), "targets": targets,
                "started_at": now, "owner_pid": os.getpid(), "owner_host": socket.gethostname(),
                **(extra or {}),
            }).last_pk
            for name in node_names:
                db.table("node_runs").insert({
                    "run_id": run_id, "node_name": name, "status": str(NodeRunStatus.PENDING),
                    "log_path": str(log_path_for(run_id, name)),
                })
        assert run_id is not None  # an INSERT's rowid
        return self.get_run(run_id), self.node_runs(run_id)

    def get_run(self, run_id: int) -> Run:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFound(f"no run with id {run_id} (see: labdeck runs)")
        return run_from_row(rows[0])

    def list_runs(self, job_name: str | None = None, limit: int = 50,
                  status: str | None = None, project: str | None = None) -> list[Run]:
        sql = "SELECT * FROM runs WHERE workflow_run_id IS NULL"  # task runs: store/run_queue
        params: list[str | int] = []
        if project:  # runs of the project's jobs (ad-hoc commands have no job, so no project)
            sql += " AND job_id IN (SELECT id FROM jobs WHERE project = ?)"
            params.append(project)
        if job_name:
            sql += " AND job_name = ?"
            params.append(job_name)
        if status:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [run_from_row(r) for r in self._rows(sql, tuple(params))]

    def called_runs(self, run_id: int) -> list[Run]:
        """The runs a run's job steps started (job references), in order."""
        return [run_from_row(r) for r in self._rows("SELECT * FROM runs WHERE called_by_run_id = ? ORDER BY id",
                                                     (run_id,))]

    def active_runs(self) -> list[Run]:
        return [run_from_row(r) for r in self._rows("SELECT * FROM runs WHERE status = ?", (str(RunStatus.RUNNING),))]

    def node_runs(self, run_id: int) -> list[NodeRun]:
        return [node_run_from_row(r) for r in
                self._rows("SELECT * FROM node_runs WHERE run_id = ? ORDER BY node_name", (run_id,))]

    def get_node_run(self, node_run_id: int) -> NodeRun:
        rows = self._rows("SELECT * FROM node_runs WHERE id = ?", (node_run_id,))
        if not rows:
            raise NotFound(f"no node run with id {node_run_id}")
        return node_run_from_row(rows[0])

    @retry_once_when_full
    def update_node_run(self, node_run_id: int, *, status: NodeRunStatus | None = None,
                        exit_code: int | None = None, started_at: float | None = None,
                        finished_at: float | None = None, attempt: int | None = None,
                        message: str | None = None, kill_state: KillState | None = None,
                        clear_exit: bool = False, node_name: str | None = None) -> None:
        changes: dict = {"node_name": node_name} if node_name else {}
        if status is not None:
            changes["status"] = str(status)
        if exit_code is not None or clear_exit:
            changes["exit_code"] = exit_code
        for key, value in (("started_at", started_at), ("finished_at", finished_at),
                           ("attempt", attempt), ("message", message)):
            if value is not None:
                changes[key] = value
        if kill_state is not None:
            changes["kill_state"] = str(kill_state)
        if changes:
            with self._tx() as db:
                db.table("node_runs").update(node_run_id, changes)

    @retry_once_when_full
    def finish_run(self, run_id: int, status: RunStatus, note: str | None = None) -> None:
        changes = {"status": str(status), "finished_at": time.time()} | ({"note": note} if note else {})
        with self._tx() as db:
            db.table("runs").update(run_id, changes)

    def record_entry(self, job_name: str, job_id: int | None, status: RunStatus, trigger: Trigger,
                     scheduled_for: float, note: str, targets: str = "", schedule_id: int | None = None) -> Run:
        """A history entry without node runs: a missed or skipped fire, or a run that could not start."""
        with self._tx() as db:
            run_id = db.table("runs").insert({
                "job_id": job_id, "job_name": job_name, "trigger": str(trigger), "status": str(status),
                "options": "{}", "targets": targets, "started_at": scheduled_for, "finished_at": time.time(),
                "owner_pid": os.getpid(), "owner_host": socket.gethostname(), "schedule_id": schedule_id,
                "scheduled_for": scheduled_for, "note": note,
            }).last_pk
        assert run_id is not None  # an INSERT's rowid
        return self.get_run(run_id)

    def request_cancel(self, run_id: int, node_name: str | None = None) -> list[NodeRun]:
        """Flag a run (or one node run of it) for cancelling; the process running it acts on the flag."""
        run = self.get_run(run_id)
        with self._tx() as db:
            if node_name is None:
                db.table("runs").update(run.id, {"cancel_requested": 1})
                db.execute("UPDATE node_runs SET cancel_requested = 1 WHERE run_id = ?", (run_id,))
            else:
                hit = db.execute("UPDATE node_runs SET cancel_requested = 1 WHERE run_id = ? AND node_name = ?",
                                 (run_id, node_name)).rowcount
                if not hit:
                    raise NotFound(f"run {run_id} has no node '{node_name}'")
        return self.node_runs(run_id)

    def cancel_flags(self, run_ids: list[int]) -> dict[int, tuple[bool, set[str]]]:
        """For each run: whether the whole run is flagged, and which node runs are."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        result: dict[int, tuple[bool, set[str]]] = {r["id"]: (bool(r["cancel_requested"]), set()) for r in
                  self._rows(f"SELECT id, cancel_requested FROM runs WHERE id IN ({marks})", tuple(run_ids))}
        for row in self._rows(f"SELECT run_id, node_name FROM node_runs WHERE cancel_requested = 1 "
                              f"AND run_id IN ({marks})", tuple(run_ids)):
            result[row["run_id"]][1].add(row["node_name"])
        return result

    # ---- helpers -----------------------------------------------------------------------

    def _find_id(self, table: str, name: str) -> int | None:
        row = self._conn.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _require_id(self, table: str, name: str, what: str) -> int:
        found = self._find_id(table, name)
        if found is None:
            raise NotFound(f"no {what} named '{name}'")
        return found

