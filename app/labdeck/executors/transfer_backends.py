"""Which TransferBackend moves files for a node: its executor's factory decides (SFTP for ssh
nodes, plain file copies for this computer, SMB or PowerShell chunks for WinRM nodes)."""

from __future__ import annotations

from ..core.models import Node
from .pool import ExecutorPool
from .registry import factory_of
from .transfer_base import TransferBackend


def backend_for(pool: ExecutorPool, node: Node) -> TransferBackend:
    """A fresh backend over the node's pooled connection (one per thread)."""
    return factory_of(node).transfer_backend(node, pool.get(node))
