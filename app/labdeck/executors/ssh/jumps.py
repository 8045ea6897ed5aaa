"""Jump hosts (OpenSSH's ``ProxyJump`` / ``ssh -J``): an SSH node reached through one or more
other SSH nodes, each hop a full SSH connection with its own host-key check and login, the
next hop's traffic inside a direct-tcpip channel of the previous one.

``hop_nodes`` works out the whole path: a node's ``via`` lists its hops, and the first hop's
own ``via`` (if any) comes before it, so ``--via gateway`` also works when the gateway itself
sits behind a bastion. ``JumpHosts`` pools the hop connections: one per path, shared by every
node behind it, so fifty nodes behind one gateway make one connection to it, not fifty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...core.errors import InvalidInput
from ...core.models import Node, Transport

if TYPE_CHECKING:
    from .connection import HostKeyCheck, SshConnection, SshTarget

NodeLookup = Callable[[str], Node]
SecretLookup = Callable[[str | None], str | None]


def hop_nodes(node: Node, node_named: NodeLookup) -> list[Node]:
    """The jump nodes to go through, outermost first. A loop or a hop that is not an SSH node
    is refused with one line."""
    return _hops(node, node_named, (node.name,))


def _hops(node: Node, node_named: NodeLookup, path: tuple[str, ...]) -> list[Node]:
    hops: list[Node] = []
    for index, name in enumerate(node.via):
        if name in path:
            raise InvalidInput(f"the jump hosts of node '{path[0]}' loop through '{name}' "
                               f"({' -> '.join(path + (name,))})")
        hop = node_named(name)
        if hop.transport is not Transport.SSH:
            raise InvalidInput(f"jump host '{name}' of node '{path[0]}' is a {hop.transport} node; "
                               "a jump host must be an SSH node")
        if index == 0:
            hops += _hops(hop, node_named, path + (name,))
        hops.append(hop)
    return hops


def target_for(node: Node, secret_for: SecretLookup) -> SshTarget:
    """How to log in to an SSH node: its address and user, and its secret from the keyring
    (the password, or the key file's passphrase)."""
    from .connection import SshTarget
    secret = secret_for(node.credential_ref)
    return SshTarget(node=node.name, host=node.host, port=node.effective_port, username=node.username,
                     key_file=node.key_file, password=None if node.key_file else secret,
                     passphrase=secret if node.key_file else None)


def chain(hops: list[Node], secret_for: SecretLookup, check_host_key: HostKeyCheck) -> SshConnection | None:
    """Fresh (not pooled) connections through ``hops``: the last one, or None without hops.
    For one-off checks; close it with ``close_chain``."""
    via = None
    from .connection import SshConnection
    for hop in hops:
        via = SshConnection(target_for(hop, secret_for), check_host_key, via=via)
    return via


def close_chain(connection: SshConnection | None) -> None:
    while connection is not None:
        connection.close()
        connection = connection.via


class JumpHosts:
    """Pooled connections to jump hosts, one per path (first hop .. this hop)."""

    def __init__(self, secret_for: SecretLookup, check_host_key: HostKeyCheck):
        self._secret_for = secret_for
        self._check_host_key = check_host_key
        self._connections: dict[tuple, SshConnection] = {}
        self._lock = threading.RLock()

    def connection(self, hops: list[Node]) -> SshConnection | None:
        """The shared connection to the last of ``hops`` (it connects on first use)."""
        if not hops:
            return None
        key = tuple((n.name, n.host, n.effective_port, n.username, n.key_file, n.credential_ref) for n in hops)
        with self._lock:
            found = self._connections.get(key)
            if found is None:
                from .connection import SshConnection
                upstream = self.connection(hops[:-1])
                found = SshConnection(target_for(hops[-1], self._secret_for), self._check_host_key, via=upstream)
                self._connections[key] = found
            return found

    def close(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in reversed(connections):  # the innermost hops first
            connection.close()
