"""Which TransferBackend moves files for a node: SFTP for ssh nodes, plain file copies for this
computer, and for WinRM nodes SMB when the node has it on and its share answers, else chunks
through PowerShell on the node's WinRM shells (winrm_transfer_choice decides)."""

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
    if node.transport is Transport.LOCAL:
        return LocalTransfer(node.name)
    if node.transport is Transport.WINRM:
        return winrm_backend(node, executor)
    raise InvalidInput(f"node '{node.name}': file transfers over {node.transport} are not supported yet")


def winrm_backend(node: Node, executor: WinrmExecutor) -> TransferBackend:
    """A Windows node's backend: SMB when the node has it on and its share answers, else the
    PowerShell helpers over the node's pooled WinRM shells."""
    from .winrm_transfer import WinrmTransfer
    from .winrm_transfer_choice import smb_or_chunked
    return smb_or_chunked(node, executor, chunked=lambda: WinrmTransfer(executor))
