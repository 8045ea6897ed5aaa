"""A helper command (a detached run's status poll, a kill, a probe) whose connection is closed
under it -- by this process (a node marked down forgets its pooled connection) or by the
network -- is "the node did not answer", never an empty answer: a detached run's follower
once read that as "the command is gone" while the command ran on."""

from __future__ import annotations

import threading
import time

import pytest

from labdeck.core.errors import NodeUnreachable
from tests.conftest import add_sshd_node


def test_a_helper_command_whose_connection_is_closed_under_it_is_unreachable_not_empty(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    connection = engine.pool.get(engine.catalog.get_node(sshd_node.name)).connection
    assert connection.run_quick("echo ready").strip() == "ready"
    closer = threading.Timer(1.0, connection.close)  # as pool.forget does when the node is marked down
    closer.start()
    began = time.monotonic()
    with pytest.raises(NodeUnreachable, match="closed before the command ended"):
        connection.run_quick("sleep 5; echo late", timeout=20)
    assert time.monotonic() - began < 5
    assert connection.run_quick("echo again").strip() == "again"  # the next call connects afresh
