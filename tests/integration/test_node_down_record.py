"""A node the engine finds down is recorded in the catalog, so every process says so:
``labdeck node list`` (which opens only the catalog) shows "down since HH:MM: <reason>" until
a probe finds the node back, and a new engine keeps off a node the last one found down."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from labdeck.store import node_down
from labdeck.store.catalog import Catalog
from labdeck.store.paths import catalog_path
from tests.conftest import add_sshd_node
from tests.support.waiting import wait_for

APP_DIR = str(Path(__file__).resolve().parents[2] / "app")


def node_list(data_dir) -> str:
    result = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "node", "list"],
                            capture_output=True, text=True, timeout=60,
                            env=os.environ | {"PYTHONPATH": APP_DIR})
    assert result.returncode == 0, result.stderr
    return result.stdout


def row_of(listing: str, name: str) -> str:
    return next(line for line in listing.splitlines() if line.startswith(name + " "))


def test_node_list_in_another_process_shows_a_node_down_until_a_probe_finds_it_back(data_dir, sshd_node):
    from labdeck.engine.engine_process import EngineProcess

    client = EngineProcess(data_dir)
    try:
        add_sshd_node(client, sshd_node)
        client.catalog.set_setting("probe_s", "1")
        sshd_node.stop()
        wait_for(lambda: client.node_down(sshd_node.name), 30, "the stopped node to be found down")
        row = row_of(node_list(data_dir), sshd_node.name)
        assert re.search(r"down since \d\d:\d\d: \S", row), row
        sshd_node.start()
        wait_for(lambda: not client.node_down(sshd_node.name), 60, "a probe to find the node back")
        assert row_of(node_list(data_dir), sshd_node.name).rstrip().endswith(" up")
    finally:
        client.close(cancel_running=True, stop_engine=True)


def test_a_new_engine_keeps_off_a_node_the_last_one_recorded_down(data_dir):
    from labdeck.core.models import Node, Transport
    from labdeck.engine.engine import Engine

    catalog = Catalog(catalog_path(data_dir))  # another process's view of the catalog
    catalog.add_node(Node(name="gone", transport=Transport.SSH, host="127.0.0.1", port=1, username="nobody"))
    node_down.mark_down(catalog, "gone", 1_700_000_000.0, "connection refused")
    catalog.close()
    engine = Engine(data_dir)
    try:
        assert "gone is down since" in (engine.node_down("gone") or "")  # before any probe of its own
        wait_for(lambda: engine.health.probed("gone"), 30, "the engine to probe the node at once")
        assert engine.node_down("gone")  # still refused: it stays down, with the first time kept
        assert node_down.down_nodes(engine.catalog)["gone"].since == 1_700_000_000.0
    finally:
        engine.close()
