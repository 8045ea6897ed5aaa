"""Blocking node operations the node dialog runs on a worker thread (never on the GUI thread):
show the host key a machine presents, try a login pinned to that key, add or update a node.
The work itself is the engine's (NodeManager); this module adapts it for the dialog."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import AuthenticationFailed, HostKeyChanged, InvalidInput, NodeUnreachable
from ..core.models import Node, Transport


@dataclass
class CheckResult:
    fingerprint: str | None = None       # what the host presents (ssh)
    key_type: str | None = None
    logged_in: bool = False
    probe: dict | None = None
    checks: list = field(default_factory=list)  # WinRM preflight: quotas and what to change


def presented_key(engine, node: Node) -> CheckResult:
    key_type, _b64, fp = engine.nodes.presented_host_key(node)
    return CheckResult(fingerprint=fp, key_type=key_type)


def try_login(engine, node: Node, secret: str | None, accepted_fingerprint: str | None) -> CheckResult:
    """Connect and log in without saving anything; an SSH host key must be the one the user accepted."""
    check = engine.nodes.try_login(node, secret, accepted_fingerprint)
    return CheckResult(fingerprint=check.host_key, logged_in=True, checks=check.checks)


def add_node(engine, node: Node, secret: str | None, accepted_fingerprint: str | None):
    """Add through the engine, all or nothing; an SSH node's key must be the one the user saw."""
    ssh = node.transport in (Transport.SSH, Transport.SLURM)  # reached over SSH: the host key the user saw
    return engine.nodes.add(node, secret or None, accept_host_key=ssh, check=True,
                            expected_fingerprint=accepted_fingerprint if ssh else None)


def update_node(engine, node: Node, secret: str | None, accept_fingerprint: str | None):
    """Save changed settings of an existing node and test them, all or nothing (accepting a host
    key the user confirmed)."""
    return engine.nodes.update(node, secret or None, accept_fingerprint)


def explain(exc: Exception) -> str:
    """A clear one-paragraph message for the dialog."""
    if isinstance(exc, NodeUnreachable):
        service = "WinRM is on (Prepare this Windows PC…)" if "/wsman" in str(exc) else "sshd runs there"
        return f"Cannot reach the machine. {exc}. Check the host name, the port and that {service}."
    if isinstance(exc, AuthenticationFailed):
        return f"Login refused. {exc}"
    if isinstance(exc, HostKeyChanged):
        return f"Host key mismatch. {exc}"
    if isinstance(exc, InvalidInput):
        return f"Please fix: {exc}"
    return str(exc) or exc.__class__.__name__
