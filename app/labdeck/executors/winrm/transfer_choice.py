"""Which backend moves a WinRM node's files: SMB when the node has it on and its share answers
(a TCP connect with a short timeout, then session setup), else the PowerShell-chunked backend
over WinRM. A refused SMB login is not a reason to fall back: it is the node's password (the
same as the WinRM login) and the user must hear about it.

Relative paths start in the user's profile folder on both paths. Over SMB that folder comes
from the node's ``smb_home`` setting, else from the probe LabDeck stores when it adds or tests
the node (``userprofile``), else from one probe over WinRM, remembered for the process.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import replace

from ...core.errors import AuthenticationFailed, LabDeckError
from ...core.models import Node
from ...core.smb_paths import SmbLayout, is_drive_absolute
from ..transfer_base import TransferBackend
from .preflight import PreflightCheck

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 2.0
ChunkedBackend = Callable[[], TransferBackend]

_profiles: dict[tuple[str, str, str], str] = {}  # (node, host, user) -> profile folder learnt over WinRM
_profiles_lock = threading.Lock()


def share_answers(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None if something listens on the SMB port, else why not (one short TCP connect)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{host}:{port} does not answer ({exc.strerror or exc.__class__.__name__})"


def profile_folder(node: Node, executor) -> str | None:
    """Where relative paths start on the node, as a Windows path; None if it cannot be learnt."""
    if node.winrm.smb_home:
        return node.winrm.smb_home
    known = str(node.probe.get("userprofile", ""))
    if is_drive_absolute(known):
        return known
    key = (node.name, node.host, node.username)
    with _profiles_lock:
        if key in _profiles:
            return _profiles[key]
    try:
        learnt = str(executor.probe().get("userprofile", ""))
    except LabDeckError as exc:
        log.info("node %s: cannot learn the profile folder over WinRM (%s)", node.name, exc)
        return None
    if not is_drive_absolute(learnt):
        return None
    with _profiles_lock:
        _profiles[key] = learnt
    return learnt


def smb_or_chunked(node: Node, executor, chunked: ChunkedBackend) -> TransferBackend:
    """The SMB backend if it can serve the node now, else ``chunked()``; ``executor`` is the
    node's WinrmExecutor (its target carries the login)."""
    backend, why = _try_smb(node, executor)
    if backend is not None:
        return backend
    log.info("node %s: transfers go through WinRM (%s)", node.name, why)
    return chunked()


def _try_smb(node: Node, executor) -> tuple[TransferBackend | None, str]:
    """A connected SmbTransfer, or None and a short text saying why SMB cannot serve the node."""
    settings = node.winrm
    if not settings.smb:
        return None, "SMB is off for this node"
    if (reason := share_answers(node.host, settings.smb_port)) is not None:
        return None, f"its SMB share {reason}"
    home = profile_folder(node, executor)
    if home is None:
        return None, "its profile folder is unknown (test the node, or set its SMB home folder)"
    from .smb_transfer import SmbTransfer  # smbprotocol: with the first SMB transfer, not at every start
    target = executor.target
    backend = SmbTransfer(node.name, SmbLayout(node.host, settings.smb_share, home, settings.smb_share_root),
                          target.username, target.password, settings.smb_port)
    try:
        backend.connect()
    except AuthenticationFailed:
        raise
    except LabDeckError as exc:
        backend.close()
        return None, f"its SMB share is not usable ({exc})"
    return backend, ""


def smb_check(node: Node, executor, probe: dict) -> PreflightCheck:
    """What ``node test`` says about the node's SMB share (``probe``: the one just taken)."""
    share = f"\\\\{node.host}\\{node.winrm.smb_share} (port {node.winrm.smb_port})"
    try:
        backend, why = _try_smb(replace(node, probe=node.probe | probe), executor)
    except AuthenticationFailed as exc:
        return PreflightCheck("SMB files", share, False, str(exc))
    if backend is None:
        return PreflightCheck("SMB files", share, False, f"{why}; until then files go through WinRM")
    backend.close()
    return PreflightCheck("SMB files", f"{share}, logged in", True)
