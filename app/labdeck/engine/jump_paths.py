"""The path to an SSH node through its jump hosts, for one-off checks (fetching the host key
a node presents, trying a login) outside the executor pool. By default the hops are found in
the catalog and their host keys checked against the accepted ones; an import of many nodes
passes its own lookup, so a node can be checked through a gateway imported in the same batch
(pinned to the key the user is confirming)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..core.models import Node
from ..store import secrets


@dataclass
class JumpLookup:
    node_named: Callable[[str], Node]
    check_host_key: Callable[[str, str, str, str], None]


@contextmanager
def jump_connection(node: Node, lookup: JumpLookup) -> Iterator:
    """The connection to the node's last jump host (None without any), closed afterwards."""
    if not node.via:
        yield None
        return
    from ..executors.ssh.jumps import chain, close_chain, hop_nodes  # paramiko: only when SSH is used
    via = chain(hop_nodes(node, lookup.node_named), secrets.get_secret, lookup.check_host_key)
    try:
        yield via
    finally:
        close_chain(via)
