"""The registry's factory for SSH nodes; paramiko is imported when the first executor or
transfer is made, not when this module is."""

from __future__ import annotations

from ...core.errors import InvalidInput
from ...core.models import Node, Transport


def ssh_connection(node: Node, connecting):
    """A new pooled connection to the node, with its secret from the keyring (the password, or
    the key file's passphrase) and the catalog's host-key rules; through its jump hosts' pooled
    connections (shared with the other nodes behind them) when it has any."""
    from .connection import SshConnection
    from .jumps import hop_nodes, target_for
    via = None
    if node.via:
        via = connecting.jump_hosts().connection(hop_nodes(node, connecting.node_named))
    return SshConnection(target_for(node, connecting.secret_for), connecting.check_host_key, via=via)


def ssh_executor(node: Node, connecting):
    from .executor import SshExecutor
    return SshExecutor(ssh_connection(node, connecting))


class SshFactory:
    transport = Transport.SSH
    over_ssh = True
    always_detached = False

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
