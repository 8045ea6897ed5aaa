"""The catalog's record of nodes found down (store/node_down.py), on a real SQLite file."""

from __future__ import annotations

import time

import pytest

from labdeck.core.models import Node, Transport
from labdeck.store import node_down
from labdeck.store.catalog import Catalog


@pytest.fixture
def catalog(tmp_path):
    c = Catalog(tmp_path / "catalog.db")
    c.add_node(Node(name="box", transport=Transport.SSH, host="10.0.0.1", username="lab"))
    yield c
    c.close()


def test_a_node_keeps_the_time_and_reason_it_was_first_found_down(catalog):
    node_down.mark_down(catalog, "box", 1000.0, "connection refused")
    node_down.mark_down(catalog, "box", 2000.0, "timed out")
    assert node_down.down_nodes(catalog)["box"] == node_down.NodeDown("box", 1000.0, "connection refused")
    node_down.clear_down(catalog, "box")
    assert node_down.down_nodes(catalog) == {}


def test_a_node_that_answered_since_is_up_and_a_new_fall_is_a_new_record(catalog):
    node_down.mark_down(catalog, "box", time.time() - 10, "connection refused")
    catalog.mark_node_seen("box", time.time(), probe={"cpus": 2})  # node test from another process
    assert node_down.down_nodes(catalog) == {}
    later = time.time() + 1
    node_down.mark_down(catalog, "box", later, "no route to host")
    assert node_down.down_nodes(catalog)["box"] == node_down.NodeDown("box", later, "no route to host")


def test_a_removed_node_takes_its_record_along(catalog):
    node_down.mark_down(catalog, "box", 1000.0, "connection refused")
    catalog.remove_node("box")
    catalog.add_node(Node(name="box", transport=Transport.SSH, host="10.0.0.2", username="lab"))  # a new machine
    assert node_down.down_nodes(catalog) == {}


def test_the_text_says_since_when_and_why():
    today = time.mktime(time.localtime()[:3] + (14, 5, 0, 0, 0, -1))
    assert node_down.NodeDown("box", today, "connection refused").text() == "down since 14:05: connection refused"
    assert node_down.NodeDown("box", today - 3 * 86400, "").short_text().startswith("down since 20")
