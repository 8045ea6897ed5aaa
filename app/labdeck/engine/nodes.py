"""Adding, changing, testing and removing nodes: connection check, host-key acceptance,
credentials into the keyring — all or nothing, so a failed add leaves no trace and a failed
update leaves the node as it was. ``try_login`` checks a login without saving anything."""

from __future__ import annotations

import codecs
import logging
import time
from dataclasses import dataclass, field

from ..core.errors import HostKeyChanged, HostKeyUnknown, InvalidInput
from ..core.events import NodeSeen
from ..core.interpreters import check_interpreter
from ..core.models import Capacity, Node, Transport
from ..core.names import check_node_name
from ..core.tags import check_tags
from ..executors.registry import factory_of
from ..store import secrets
from ..store.identity import catalog_token
from .bus import EventBus
from .hostkeys import CatalogHostKeys
from .jump_paths import JumpLookup, jump_connection

log = logging.getLogger(__name__)


@dataclass
class NodeCheck:
    node: str
    reachable: bool
    probe: dict
    host_key: str | None = None
    message: str = ""
    checks: list = field(default_factory=list)  # preflight checks (WinRM nodes): name, value, ok, advice


class NodeManager:
    def __init__(self, catalog, pool, bus: EventBus):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self._host_keys = CatalogHostKeys(catalog)

    def presented_host_key(self, node: Node, lookup: JumpLookup | None = None) -> tuple[str, str, str]:
        """(type, base64, fingerprint) the node presents now, for the user to check; through its
        jump hosts, each checked against its accepted key (or as ``lookup`` says)."""
        from ..executors.ssh.connection import SshTarget, fetch_host_key  # paramiko: only when SSH is used
        with jump_connection(node, lookup or self.catalog_lookup()) as via:
            return fetch_host_key(SshTarget(node.name, node.host, node.effective_port, node.username), via=via)

    def catalog_lookup(self) -> JumpLookup:
        return JumpLookup(self._catalog.get_node, self._host_keys.check)

    def add(self, node: Node, secret: str | None = None, accept_host_key: bool = False,
            check: bool = True, expected_fingerprint: str | None = None) -> NodeCheck:
        """Add a node; unless ``check`` is off it must answer, log in and pass the host-key
        check first. Any failure undoes everything (catalog row, accepted key, keyring entry).

        ``expected_fingerprint`` (SSH): the key the user was shown and accepted; the key the
        node presents now must have exactly that fingerprint (it is then accepted), else
        HostKeyChanged is raised before anything is saved."""
        validate_node(node)
        self._catalog.ensure_node_name_free(node.name)
        for hop in node.via:
            self._catalog.get_node(hop)  # a jump host must be a node already (NotFound lists them)
        if node.transport is not Transport.LOCAL and secret:
            node.credential_ref = secrets.credential_ref_for(node.name, catalog_token(self._catalog))
        presented = None
        if factory_of(node).over_ssh and (check or accept_host_key or expected_fingerprint):
            presented = self.presented_host_key(node)
            if expected_fingerprint is not None:
                if presented[2] != expected_fingerprint:
                    raise HostKeyChanged(node.name, expected_fingerprint, f"{presented[0]} {presented[2]}")
            elif not accept_host_key:
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
        if factory_of(node).over_ssh and accept_host_key:
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
            executor = self._pool.get(node)
            probe = executor.probe()
            checks = factory_of(node).preflight(node, executor, probe)
        except Exception as exc:
            self._bus.publish(NodeSeen(name, False, str(exc)))
            raise
        self._catalog.mark_node_seen(name, time.time(), probe=probe, os_family=probe.get("os_family"))
        self._bus.publish(NodeSeen(name, True))
        return NodeCheck(name, True, probe, fingerprint, checks=checks)

    def update(self, node: Node, secret: str | None = None, accept_fingerprint: str | None = None) -> NodeCheck:
        """Save changed settings of an existing node (found by name) and test it.

        The node keeps its id, probe, last-seen time, OS family, credential reference and (unless
        given) capacity; a new
        ``secret`` replaces the one in the keyring. ``accept_fingerprint`` (SSH): a host key the
        user confirmed — if the node's accepted keys do not already hold it, the key presented
        now must have exactly that fingerprint and replaces them. All or nothing: if anything
        fails (login refused, unreachable, key mismatch) the old row, host keys and secret are
        put back and the error is raised."""
        validate_node(node)
        old = self._catalog.get_node(node.name)
        old_keys = self._catalog.host_keys(node.name)
        node.id, node.probe, node.last_seen, node.os_family = old.id, old.probe, old.last_seen, old.os_family
        node.credential_ref = old.credential_ref
        if node.capacity == Capacity():  # an editor without capacity fields keeps what was set by hand
            node.capacity = old.capacity
        ref = None
        if secret and node.transport is not Transport.LOCAL:
            ref = node.credential_ref = old.credential_ref or secrets.credential_ref_for(
                node.name, catalog_token(self._catalog))
        old_secret = secrets.get_secret(ref) if ref else None
        presented = None
        if factory_of(node).over_ssh and accept_fingerprint and \
                accept_fingerprint not in {fp for _b64, fp in old_keys.values()}:
            presented = self.presented_host_key(node)
            if presented[2] != accept_fingerprint:
                raise HostKeyChanged(node.name, accept_fingerprint, f"{presented[0]} {presented[2]}")
        try:
            if ref:
                secrets.set_secret(ref, secret)
            self._catalog.update_node(node)
            self._pool.forget(node.name)
            if presented:
                self._catalog.accept_host_key(node.name, *presented, replace=True)
            return self.test(node.name)
        except BaseException:
            self._pool.forget(node.name)
            self._catalog.update_node(old)
            if presented:
                self._restore_host_keys(node.name, old_keys)
            if ref:
                if old_secret is None:
                    secrets.delete_secret(ref)
                else:
                    secrets.set_secret(ref, old_secret)
            raise

    def _restore_host_keys(self, name: str, keys: dict[str, tuple[str, str]]) -> None:
        first = True
        for key_type, (key_b64, fingerprint) in keys.items():
            self._catalog.accept_host_key(name, key_type, key_b64, fingerprint, replace=first)
            first = False
        if first:  # there were none: drop what was accepted meanwhile (the catalog has no call for it)
            node_id = self._catalog.get_node(name).id
            with self._catalog._tx() as db:
                db.execute("DELETE FROM host_keys WHERE node_id = ?", (node_id,))

    def try_login(self, node: Node, secret: str | None, accepted_fingerprint: str | None,
                  lookup: JumpLookup | None = None) -> NodeCheck:
        """Connect and log in to an SSH node without saving anything (the node need not be in the
        catalog). The host key must have exactly the fingerprint the user accepted, both when it
        is fetched for the check and on the login connection itself. ``secret`` None: the one in
        the keyring under the node's credential reference, if any."""
        if node.transport is Transport.WINRM:
            return self._try_winrm_login(node, secret)
        if not factory_of(node).over_ssh:
            raise InvalidInput(f"node '{node.name}': only SSH and WinRM nodes need a login check")
        lookup = lookup or self.catalog_lookup()
        key_type, _b64, fingerprint = self.presented_host_key(node, lookup)
        if fingerprint != accepted_fingerprint:
            raise HostKeyChanged(node.name, accepted_fingerprint, f"{key_type} {fingerprint}")

        def pinned(_node, presented_type, _presented_b64, presented_fp):
            if presented_fp != accepted_fingerprint:
                raise HostKeyChanged(node.name, accepted_fingerprint, f"{presented_type} {presented_fp}")

        from ..executors.ssh.connection import SshConnection, SshTarget  # paramiko: only when SSH is used
        if secret is None and node.credential_ref:
            secret = secrets.get_secret(node.credential_ref)
        target = SshTarget(node.name, node.host, node.effective_port, node.username, key_file=node.key_file,
                           password=None if node.key_file else secret,
                           passphrase=secret if node.key_file else None)
        with jump_connection(node, lookup) as via:
            conn = SshConnection(target, pinned, via=via)
            try:
                conn.transport()
            finally:
                conn.close()
        return NodeCheck(node.name, True, {}, host_key=fingerprint, message=f"logged in ({key_type})")

    def _try_winrm_login(self, node: Node, secret: str | None) -> NodeCheck:
        """Log in to a WinRM node and read its quotas, saving nothing (WinRM has no host key;
        HTTPS certificates are checked by the transport unless the node turns that off)."""
        from ..executors.winrm.executor import executor_for as winrm_executor_for  # pywinrm: only when WinRM is used
        if secret is None and node.credential_ref:
            secret = secrets.get_secret(node.credential_ref)
        executor = winrm_executor_for(node, secret)
        try:
            checks = executor.preflight()
        finally:
            executor.close()
        return NodeCheck(node.name, True, {}, message=f"logged in ({node.winrm.auth})", checks=checks)

    def migrate_secret_refs(self) -> int:
        """Move the secrets of nodes still keyed by name alone (``node:NAME``, shared by every catalog
        on this PC) to this catalog's own key; how many moved. The old entry stays: another catalog
        may still read it until it migrates too. A keyring that cannot be used leaves them for later."""
        moved = 0
        for node in self._catalog.list_nodes():
            if node.credential_ref != secrets.legacy_credential_ref(node.name):
                continue
            new_ref = secrets.credential_ref_for(node.name, catalog_token(self._catalog))
            try:
                secret = secrets.get_secret(node.credential_ref)
                if secret is not None:
                    secrets.set_secret(new_ref, secret)
            except Exception as exc:
                log.warning("the secret of node %s stays under its old keyring name for now: %s", node.name, exc)
                continue
            node.credential_ref = new_ref
            self._catalog.update_node(node)
            moved += 1
        return moved

    def remove(self, name: str) -> None:
        node = self._catalog.get_node(name)
        self._catalog.remove_node(name)
        self._pool.forget(name)
        secrets.delete_secret(node.credential_ref)


def validate_node(node: Node) -> None:
    check_node_name(node.name)
    if node.transport is not Transport.LOCAL and not node.host:
        raise InvalidInput(f"node '{node.name}' needs --host")
    factory_of(node).validate(node)
    node.python = check_interpreter(node.python)
    if node.via and node.transport is not Transport.SSH:
        raise InvalidInput(f"node '{node.name}': jump hosts (--via) are for SSH nodes")
    if node.name in node.via:
        raise InvalidInput(f"node '{node.name}' cannot be its own jump host")
    if node.port is not None and not 0 < node.port < 65536:
        raise InvalidInput(f"port {node.port} is out of range 1-65535")
    check_tags(node.tags)
    try:
        codecs.lookup(node.encoding)
    except LookupError:
        raise InvalidInput(f"unknown encoding '{node.encoding}': give a codec name such as utf-8, cp850 "
                           "or latin-1") from None
