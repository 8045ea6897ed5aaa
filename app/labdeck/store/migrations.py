"""Schema versions of the catalog and the forward migrations between them.

Each migration is a list of SQL statements run in one transaction. Before migrating an
existing file, it is copied to ``catalog.sqlite.bak-v<old>`` so nothing can be lost.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from ..core.errors import CatalogError

MIGRATIONS: list[list[str]] = [
    # v1: settings, nodes, host keys, jobs, runs, node runs
    [
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            transport TEXT NOT NULL,
            host TEXT NOT NULL DEFAULT '',
            port INTEGER,
            username TEXT NOT NULL DEFAULT '',
            key_file TEXT,
            credential_ref TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            attributes TEXT NOT NULL DEFAULT '{}',
            capacity TEXT NOT NULL DEFAULT '{}',
            os_family TEXT,
            encoding TEXT NOT NULL DEFAULT 'utf-8',
            probe TEXT NOT NULL DEFAULT '{}',
            last_seen REAL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE host_keys (
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            key_type TEXT NOT NULL,
            key_b64 TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            accepted_at REAL NOT NULL,
            PRIMARY KEY (node_id, key_type)
        )""",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            targets TEXT NOT NULL,
            steps TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '[]',
            policy TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            job_name TEXT NOT NULL,
            trigger TEXT NOT NULL,
            status TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '{}',
            targets TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            owner_pid INTEGER,
            owner_host TEXT
        )""",
        "CREATE INDEX runs_job ON runs(job_name, started_at)",
        "CREATE INDEX runs_status ON runs(status)",
        """CREATE TABLE node_runs (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            node_name TEXT NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            exit_code INTEGER,
            started_at REAL,
            finished_at REAL,
            log_path TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            kill_state TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX node_runs_run ON node_runs(run_id)",
        "CREATE INDEX node_runs_node ON node_runs(node_name, run_id)",
    ],
    # v2: schedules; runs learn which schedule fired them, a note, and restart lineage
    [
        """CREATE TABLE schedules (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            expr TEXT NOT NULL,
            tz TEXT NOT NULL DEFAULT 'UTC',
            enabled INTEGER NOT NULL DEFAULT 1,
            catch_up TEXT NOT NULL DEFAULT 'skip',
            last_checked REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX schedules_job ON schedules(job_id)",
        "ALTER TABLE runs ADD COLUMN schedule_id INTEGER",
        "ALTER TABLE runs ADD COLUMN scheduled_for REAL",
        "ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN parent_run_id INTEGER",
    ],
    # v3: a schedule's latest entries without scanning the whole history
    [
        "CREATE INDEX runs_schedule ON runs(schedule_id, id)",
    ],
    # v4: durable runs -- where a detached node run lives on its node, and how far its output was read
    [
        """CREATE TABLE detached_runs (
            node_run_id INTEGER PRIMARY KEY REFERENCES node_runs(id) ON DELETE CASCADE,
            node_name TEXT NOT NULL,
            remote_dir TEXT NOT NULL,
            pgid INTEGER,
            deadline_at REAL,
            kill_grace_s REAL NOT NULL DEFAULT 3,
            out_offset INTEGER NOT NULL DEFAULT 0,
            err_offset INTEGER NOT NULL DEFAULT 0,
            log_size INTEGER NOT NULL DEFAULT 0,
            lost_since REAL,
            reattached INTEGER NOT NULL DEFAULT 0,
            launched_at REAL NOT NULL
        )""",
    ],
    # v5: WinRM nodes (#5): auth, http/https, certificate check and command shell, as JSON
    [
        "ALTER TABLE nodes ADD COLUMN winrm TEXT NOT NULL DEFAULT '{}'",
    ],
    # v6: workflows (#8): a job's plan; task runs point at their workflow or array run; the run queue
    [
        "ALTER TABLE jobs ADD COLUMN plan TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE runs ADD COLUMN workflow_run_id INTEGER",
        "ALTER TABLE runs ADD COLUMN task TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX runs_workflow ON runs(workflow_run_id, id)",
        """CREATE TABLE run_queue (
            run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            priority INTEGER NOT NULL DEFAULT 0,
            seq REAL NOT NULL,
            tasks_total INTEGER NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            only_tasks TEXT NOT NULL DEFAULT '[]',
            queued_at REAL NOT NULL
        )""",
        """CREATE TABLE placements (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL,
            node_name TEXT NOT NULL,
            cpus REAL NOT NULL DEFAULT 0,
            memory_mb INTEGER NOT NULL DEFAULT 0,
            gpus INTEGER NOT NULL DEFAULT 0,
            owner_pid INTEGER NOT NULL,
            owner_host TEXT NOT NULL,
            placed_at REAL NOT NULL
        )""",
        "CREATE INDEX placements_node ON placements(node_name)",
    ],
    # v7: the Python interpreter a node runs .py script steps with ("" = find one on the node) (#14)
    [
        "ALTER TABLE nodes ADD COLUMN python TEXT NOT NULL DEFAULT ''",
    ],
    # v8: node metrics: a compact history of each probe (percentages), kept for a day (store/metrics.py)
    [
        """CREATE TABLE node_metrics (
            node_name TEXT NOT NULL,
            at REAL NOT NULL,
            cpu REAL,
            memory REAL,
            disk REAL,
            gpus TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX node_metrics_node_at ON node_metrics(node_name, at)",
    ],
    [  # Slurm clusters: partition, account and extra sbatch arguments of a slurm node
        "ALTER TABLE nodes ADD COLUMN slurm TEXT NOT NULL DEFAULT '{}'",
    ],
    # jump hosts: the node names an SSH node is reached through, first hop first
    ["ALTER TABLE nodes ADD COLUMN via TEXT NOT NULL DEFAULT '[]'"],
    # projects: every job belongs to one (Rundeck's top level); nodes stay shared
    ["ALTER TABLE jobs ADD COLUMN project TEXT NOT NULL DEFAULT 'default'",
     "CREATE INDEX jobs_project ON jobs(project)"],
    # job references: a referenced job's run records the run whose step started it
    ["ALTER TABLE runs ADD COLUMN called_by_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL",
     "CREATE INDEX runs_called_by ON runs(called_by_run_id)"],
    # runs that wait for another run to end (run --after, a schedule's after:)
    ["""CREATE TABLE run_waits (
            id INTEGER PRIMARY KEY,
            job_name TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '{}',
            targets TEXT,
            trigger TEXT NOT NULL,
            after_run_id INTEGER NOT NULL,
            require_ok INTEGER NOT NULL DEFAULT 0,
            schedule_id INTEGER,
            owner_pid INTEGER NOT NULL,
            owner_host TEXT NOT NULL,
            created_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting',
            run_id INTEGER,
            note TEXT NOT NULL DEFAULT ''
        )""",
     "CREATE INDEX run_waits_state ON run_waits(state)",
     "ALTER TABLE schedules ADD COLUMN after_job TEXT NOT NULL DEFAULT ''",
     "ALTER TABLE schedules ADD COLUMN after_ok INTEGER NOT NULL DEFAULT 0"],
    # the GPUs a placement holds, by device index (JSON list), never shared (#16)
    [
        "ALTER TABLE placements ADD COLUMN gpu_devices TEXT NOT NULL DEFAULT '[]'",
    ],
    # each attempt of a node run, so the run timeline draws retries as their own segments (#18)
    [
        """CREATE TABLE node_run_attempts (
            node_run_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (node_run_id, attempt)
        )""",
    ],
    # a node the engine found down, until a probe succeeds: every process shows it (#16)
    ["""CREATE TABLE node_down (
            node_name TEXT PRIMARY KEY,
            since REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )""",
     # a removed node's record goes with it (a new node of that name starts up); a rename carries it
     """CREATE TRIGGER node_down_removed AFTER DELETE ON nodes
        BEGIN DELETE FROM node_down WHERE node_name = OLD.name; END""",
     """CREATE TRIGGER node_down_renamed AFTER UPDATE OF name ON nodes WHEN OLD.name != NEW.name
        BEGIN UPDATE node_down SET node_name = NEW.name WHERE node_name = OLD.name; END"""],
]


def schema_version() -> int:
    return len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, path: Path | None) -> int:
    """Bring the file to the newest schema; returns the version it had."""
    old, target = current_version(conn), schema_version()
    if old > target:
        raise CatalogError(
            f"the catalog {path} was written by a newer LabDeck (schema {old}, this one knows {target}); "
            "upgrade LabDeck or choose another --data-dir"
        )
    if old == target:
        return old
    if old > 0 and path is not None and path.exists():
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        shutil.copy2(path, path.with_name(f"{path.name}.bak-v{old}"))
    for version in range(old, target):
        with conn:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return old
