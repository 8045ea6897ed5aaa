"""The registry's factory for SSH nodes; paramiko is imported when the first executor or
transfer is made, not when this module is."""

from __future__ import annotations

from ...core.errors import InvalidInput
from ...core.models import Node, Transport


def ssh_executor(node: Node, connecting):
    """An SshExecutor over a new pooled connection, with the node's secret from the keyring (the
    password, or the key file's passphrase)."""
    from .connection import SshConnection
    from .executor import SshExecutor
    from .jumps import hop_nodes, target_for
    via = None
    if node.via:  # through jump hosts: their pooled connections, shared with the other nodes behind them
        via = connecting.jump_hosts().connection(hop_nodes(node, connecting.node_named))
    return SshExecutor(SshConnection(target_for(node, connecting.secret_for), connecting.check_host_key, via=via))


class SshFactory:
    transport = Transport.SSH
    over_ssh = True

    def validate(self, node: Node) -> None:
        if not node.username:
            raise InvalidInput(f"node '{node.name}' needs --user for SSH")

    def executor(self, node: Node, connecting):
        return ssh_executor(node, connecting)

    def transfer_backend(self, node: Node, executor):
        from .sftp_transfer import SftpTransfer
        return SftpTransfer(executor.connection)

    def preflight(self, node: Node, executor, probe: dict) -> list:
        return []


FACTORY = SshFactory()
