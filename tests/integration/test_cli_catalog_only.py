"""Commands that only read or edit the catalog open only the catalog, the importers included:
``project list``, ``job import --from rundeck``, ``schedule import --from taskscheduler`` and
``node import`` with ``--dry-run`` or ``--no-check`` start no engine (no engine process, no
engine address file, no SSH or scheduler machinery, no thread) and still do their work."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labdeck.core.models import Node, Transport, WinrmSettings
from labdeck.engine.seed import seed_first_start
from labdeck.store import engine_files, paths
from labdeck.store.catalog import Catalog

DATA = Path(__file__).resolve().parents[1] / "data"
HEAVY = ("paramiko", "apscheduler", "labdeck.engine.engine", "labdeck.engine.engine_process")


def run_cli(data_dir, argv: list[str]) -> dict:
    """The CLI's main() in a fresh interpreter: its exit code, output, and what it imported and left running."""
    code = textwrap.dedent(f"""
        import json, sys, threading
        from labdeck.cli import main
        code = main({["--data-dir", str(data_dir), *argv]!r})
        print("\\n@@" + json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules],
                                     "threads": threading.active_count()}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text, report = out.stdout.rsplit("@@", 1)
    return json.loads(report) | {"stdout": text}


@pytest.fixture
def catalog_dir(data_dir):
    """A catalog with a Windows node (for the Task Scheduler import), and no engine running."""
    catalog = Catalog(paths.catalog_path(data_dir))
    seed_first_start(catalog)  # as a first start leaves it: this-computer and a sample job
    catalog.add_node(Node(name="win1", transport=Transport.WINRM, host="10.9.0.5", username="lab", tags=["windows"],
                          winrm=WinrmSettings(shell="cmd")))
    catalog.close()
    return data_dir


COMMANDS = {
    "project list": (["project", "list", "--json"], '"name": "default"'),
    "job import": (["job", "import", str(DATA / "rundeck" / "jobs.xml"), "--from", "rundeck", "--partial",
                    "--targets", "this-computer", "--project", "lab"], "imported 2 jobs"),
    "schedule import": (["schedule", "import", str(DATA / "taskscheduler" / "nightly-prep.xml"), "--from",
                         "taskscheduler", "--targets", "tag:windows", "--tz", "Europe/Berlin"],
                        "imported job 'Nightly-Prep' with 3 schedules"),
    "node import --dry-run": (["node", "import", str(DATA / "inventories" / "lab.yml"), "--dry-run"],
                              "nothing was changed"),
    "node import --no-check": (["node", "import", str(DATA / "inventories" / "lab.yml"), "--no-check"],
                               "(not checked)"),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_catalog_command_starts_no_engine(catalog_dir, name):
    argv, says = COMMANDS[name]
    report = run_cli(catalog_dir, argv)
    assert report["code"] == 0
    assert says in report["stdout"]
    cron_parser = {"apscheduler"} if "import" in name and "node" not in name else set()  # schedules are checked
    assert [m for m in report["heavy"] if m not in cron_parser] == []
    assert report["threads"] == 1
    assert engine_files.read_address(catalog_dir) is None  # no engine service was started either
