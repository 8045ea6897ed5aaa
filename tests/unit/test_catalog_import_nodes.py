"""Catalog.import_nodes: many nodes and their host keys in one transaction, all or none."""

from __future__ import annotations

import pytest

from labdeck.core.errors import AlreadyExists
from labdeck.core.models import Node, Transport
from labdeck.store.catalog import Catalog


def test_a_clash_in_the_middle_leaves_nothing_behind(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_node(Node(name="b", transport=Transport.SSH, host="h", username="u"))
    batch = [Node(name=n, transport=Transport.SSH, host="h", username="u") for n in ("a", "b", "c")]
    with pytest.raises(AlreadyExists, match="--replace"):
        catalog.import_nodes(batch, {"a": ("ssh-ed25519", "AAAA", "SHA256:x")})
    assert [n.name for n in catalog.list_nodes()] == ["b"]
    assert catalog._rows("SELECT COUNT(*) AS n FROM host_keys")[0]["n"] == 0


def test_replace_keeps_the_id_and_probe_and_swaps_the_host_keys(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    old = catalog.add_node(Node(name="b", transport=Transport.SSH, host="old", username="u"))
    catalog.accept_host_key("b", "ssh-rsa", "OLD", "SHA256:old")
    catalog.mark_node_seen("b", probe={"cpus": 4}, os_family="linux")
    catalog.import_nodes([Node(name="b", transport=Transport.SSH, host="new", username="u", tags=["t"])],
                         {"b": ("ssh-ed25519", "NEW", "SHA256:new")}, replace=True)
    node = catalog.get_node("b")
    assert (node.id, node.host, node.tags, node.probe, node.os_family) == (old.id, "new", ["t"], {"cpus": 4}, "linux")
    assert catalog.host_keys("b") == {"ssh-ed25519": ("NEW", "SHA256:new")}
