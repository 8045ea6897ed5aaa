"""Commands that only read or edit the catalog open just the catalog: no engine threads, no
seeding, no reconcile writes, and none of the SSH or scheduler machinery is even imported
(a user typing ``labdeck node list`` pays for one SQLite read, not for an engine)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from labdeck.core.models import Trigger
from labdeck.store import paths
from labdeck.store.catalog import Catalog

READ_COMMANDS = [["node", "list"], ["job", "list"], ["schedule", "list"], ["runs"], ["queue"], ["setting"],
                 ["job", "show", "hello"]]


def _run_in_process(data_dir, argv: list[str]) -> dict:
    """Run the CLI's main() in a fresh interpreter; report what it imported and which threads it left."""
    code = textwrap.dedent(f"""
        import json, sys, threading
        from labdeck.cli import main
        code = main({["--data-dir", str(data_dir), *argv]!r})
        heavy = [m for m in ("paramiko", "apscheduler", "labdeck.engine.engine", "keyring", "pydantic", "yaml", "numpy")
                 if m in sys.modules]
        print("\\n@@" + json.dumps({{"code": code, "heavy": heavy, "threads": threading.active_count()}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.rsplit("@@", 1)[1])


@pytest.fixture
def seeded(data_dir):
    """A catalog a user already has (seeded by a first run of the engine)."""
    from labdeck.engine.engine import Engine
    Engine(data_dir).close()
    return data_dir


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=[" ".join(a) for a in READ_COMMANDS])
def test_a_read_command_imports_no_engine_and_starts_no_thread(seeded, argv):
    report = _run_in_process(seeded, argv)
    assert report["code"] == 0
    allowed = {"yaml", "pydantic"} if argv[:2] == ["job", "show"] else set()  # it prints the job file
    assert [m for m in report["heavy"] if m not in allowed] == []
    assert report["threads"] == 1


def test_reading_the_runs_never_rewrites_a_run_another_process_holds(seeded):
    """A run left "running" by a process that is gone is for the catalog's engine to reconcile;
    listing the runs must not change it (before: every command built an Engine, which did)."""
    catalog = Catalog(paths.catalog_path(seeded))
    run, _ = catalog.create_run("hello", None, Trigger.CLI, {}, "this-computer", ["this-computer"],
                                lambda run_id, node: seeded / f"{run_id}.log", {"owner_pid": 2**22 + 7})
    catalog.close()
    report = _run_in_process(seeded, ["runs", "--json"])
    assert report["code"] == 0
    catalog = Catalog(paths.catalog_path(seeded))
    assert str(catalog.get_run(run.id).status) == "running"
    catalog.close()
