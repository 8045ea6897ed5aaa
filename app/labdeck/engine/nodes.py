"""Adding, testing and removing nodes: connection check, host-key acceptance, credentials
into the keyring — all or nothing, so a failed add leaves no trace."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..core.errors import HostKeyChanged, HostKeyUnknown, InvalidInput
from ..core.events import NodeSeen
from ..core.models import Node, Transport
from ..executors.ssh_connection import SshTarget, fetch_host_key
from ..store import secrets
from .bus import EventBus
from .hostkeys import CatalogHostKeys


@dataclass
class NodeCheck:
    node: str
    reachable: bool
    probe: dict
    host_key: str | None = None
    message: str = ""


class NodeManager:
    def __init__(self, catalog, pool, bus: EventBus):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self._host_keys = CatalogHostKeys(catalog)

    def presented_host_key(self, node: Node) -> tuple[str, str, str]:
        """(type, base64, fingerprint) the node presents now, for the user to check."""
        return fetch_host_key(SshTarget(node.name, node.host, node.effective_port, node.username))

    def add(self, node: Node, secret: str | None = None, accept_host_key: bool = False,
            check: bool = True) -> NodeCheck:
        """Add a node; unless ``check`` is off it must answer, log in and pass the host-key
        check first. Any failure undoes everything (catalog row, accepted key, keyring entry)."""
        _validate(node)
        self._catalog.ensure_node_name_free(node.name)
        if node.transport is not Transport.LOCAL and secret:
            node.credential_ref = secrets.credential_ref_for(node.name)
        presented = None
        if node.transport is Transport.SSH and (check or accept_host_key):
            presented = self.presented_host_key(node)
            if not accept_host_key:
                raise HostKeyUnknown(node.name, presented[2], presented[0], presented[1])
        added = False
        try:
            if secret and node.credential_ref:
                secrets.set_secret(node.credential_ref, secret)
            self._catalog.add_node(node)
            added = True
            if presented:
                self._catalog.accept_host_key(node.name, *presented)
            return self.test(node.name) if check else NodeCheck(node.name, False, {}, message="not checked")
        except BaseException:
            self._pool.forget(node.name)
            if added:
                self._catalog.remove_node(node.name)
            if secret and node.credential_ref:
                secrets.delete_secret(node.credential_ref)
            raise

    def test(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False) -> NodeCheck:
        node = self._catalog.get_node(name)
        fingerprint = None
        if node.transport is Transport.SSH and accept_host_key:
            key_type, key_b64, fingerprint = self.presented_host_key(node)
            try:
                self._host_keys.check(name, key_type, key_b64, fingerprint)
            except HostKeyUnknown:
                self._catalog.accept_host_key(name, key_type, key_b64, fingerprint)
            except HostKeyChanged:
                if not replace_host_key:
                    raise
                self._catalog.accept_host_key(name, key_type, key_b64, fingerprint, replace=True)
        self._pool.forget(name)
        try:
            probe = self._pool.get(node).probe()
        except Exception as exc:
            self._bus.publish(NodeSeen(name, False, str(exc)))
            raise
        self._catalog.mark_node_seen(name, time.time(), probe=probe, os_family=probe.get("os_family"))
        self._bus.publish(NodeSeen(name, True))
        return NodeCheck(name, True, probe, fingerprint)

    def remove(self, name: str) -> None:
        node = self._catalog.get_node(name)
        self._catalog.remove_node(name)
        self._pool.forget(name)
        secrets.delete_secret(node.credential_ref)


def _validate(node: Node) -> None:
    if not node.name or any(c in node.name for c in " ,!&:/\\") or node.name == "all":
        raise InvalidInput(f"invalid node name '{node.name}': use letters, digits, '-', '_' or '.' (not 'all')")
    if node.transport is not Transport.LOCAL and not node.host:
        raise InvalidInput(f"node '{node.name}' needs --host")
    if node.transport is Transport.SSH and not node.username:
        raise InvalidInput(f"node '{node.name}' needs --user for SSH")
    if node.port is not None and not 0 < node.port < 65536:
        raise InvalidInput(f"port {node.port} is out of range 1-65535")
