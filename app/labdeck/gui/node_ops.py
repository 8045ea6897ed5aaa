"""Blocking node operations the node dialog runs on a worker thread (never on the GUI thread):
show the host key a machine presents, try a login pinned to that key, save a node."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import AuthenticationFailed, HostKeyChanged, InvalidInput, NodeUnreachable
from ..core.models import Node, Transport
from ..executors.ssh_connection import SshConnection, SshTarget
from ..store import secrets


@dataclass
class CheckResult:
    fingerprint: str | None = None       # what the host presents (ssh)
    key_type: str | None = None
    logged_in: bool = False
    probe: dict | None = None


def presented_key(engine, node: Node) -> CheckResult:
    key_type, _b64, fp = engine.nodes.presented_host_key(node)
    return CheckResult(fingerprint=fp, key_type=key_type)


def try_login(engine, node: Node, secret: str | None, accepted_fingerprint: str) -> CheckResult:
    """Connect and log in without saving anything; the host key must be the one the user accepted."""
    result = presented_key(engine, node)
    if result.fingerprint != accepted_fingerprint:
        raise HostKeyChanged(node.name, accepted_fingerprint, result.fingerprint or "?")

    def pinned(_node, _type, _b64, fp):
        if fp != accepted_fingerprint:
            raise HostKeyChanged(node.name, accepted_fingerprint, fp)

    if secret is None and node.credential_ref:
        secret = secrets.get_secret(node.credential_ref)
    target = SshTarget(node.name, node.host, node.effective_port, node.username, key_file=node.key_file,
                       password=None if node.key_file else secret, passphrase=secret if node.key_file else None)
    conn = SshConnection(target, pinned)
    try:
        conn.transport()
    finally:
        conn.close()
    result.logged_in = True
    return result


def add_node(engine, node: Node, secret: str | None, accepted_fingerprint: str | None):
    """Add through the engine (all or nothing); make sure the key it stored is the one the user saw."""
    check = engine.add_node(node, secret or None, accept_host_key=node.transport is Transport.SSH, check=True)
    if node.transport is Transport.SSH:
        stored = {fp for _b64, fp in engine.catalog.host_keys(node.name).values()}
        if accepted_fingerprint not in stored:
            engine.nodes.remove(node.name)
            raise HostKeyChanged(node.name, accepted_fingerprint or "?", ", ".join(sorted(stored)) or "?")
    return check


def update_node(engine, node: Node, secret: str | None, accept_fingerprint: str | None):
    """Save changed settings of an existing node, then test it (accepting a host key the user confirmed)."""
    old = engine.catalog.get_node(node.name)
    node.id, node.probe, node.last_seen, node.os_family = old.id, old.probe, old.last_seen, old.os_family
    node.credential_ref = old.credential_ref
    if secret:
        node.credential_ref = node.credential_ref or secrets.credential_ref_for(node.name)
        secrets.set_secret(node.credential_ref, secret)
    engine.catalog.update_node(node)
    engine.pool.forget(node.name)
    if node.transport is not Transport.SSH:
        return engine.test_node(node.name)
    accepted = {fp for _b64, fp in engine.catalog.host_keys(node.name).values()}
    if accept_fingerprint and accept_fingerprint not in accepted:
        return engine.test_node(node.name, accept_host_key=True, replace_host_key=True)
    return engine.test_node(node.name)


def explain(exc: Exception) -> str:
    """A clear one-paragraph message for the dialog."""
    if isinstance(exc, NodeUnreachable):
        return f"Cannot reach the machine. {exc}. Check the host name, the port and that sshd runs there."
    if isinstance(exc, AuthenticationFailed):
        return f"Login refused. {exc}"
    if isinstance(exc, HostKeyChanged):
        return f"Host key mismatch. {exc}"
    if isinstance(exc, InvalidInput):
        return f"Please fix: {exc}"
    return str(exc) or exc.__class__.__name__
