"""Which TransferBackend moves files for a node: SFTP for ssh nodes, chunked PowerShell over
WinRM for Windows nodes (``winrm_backend``, the one place that picks a WinRM node's backend),
and plain file copies for this computer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import InvalidInput
from ..core.models import Node, Transport
from .local_transfer import LocalTransfer
from .pool import ExecutorPool
from .transfer_base import TransferBackend

if TYPE_CHECKING:
    from .winrm import WinrmExecutor


def backend_for(pool: ExecutorPool, node: Node) -> TransferBackend:
    """A fresh backend over the node's pooled connection (one per thread)."""
    executor = pool.get(node)
    if node.transport is Transport.SSH:
        from .sftp_transfer import SftpTransfer  # paramiko: with the first SSH transfer, not at every start
        return SftpTransfer(executor.connection)
    if node.transport is Transport.WINRM:
        return winrm_backend(node, executor)
    if node.transport is Transport.LOCAL:
        return LocalTransfer(node.name)
    raise InvalidInput(f"node '{node.name}': file transfers over {node.transport} are not supported yet")


def winrm_backend(node: Node, executor: WinrmExecutor) -> TransferBackend:
    """A Windows node's backend: PowerShell helpers over the node's pooled WinRM shells (a
    faster path, such as SMB when the node's share is reachable, goes in front of this)."""
    from .winrm_transfer import WinrmTransfer
    return WinrmTransfer(executor)
