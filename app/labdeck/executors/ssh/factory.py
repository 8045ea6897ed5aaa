"""The registry's factory for SSH nodes; paramiko is imported when the first executor or
transfer is made, not when this module is."""

from __future__ import annotations

from ...core.errors import InvalidInput
from ...core.models import Node, Transport


def ssh_executor(node: Node, connecting):
    """An SshExecutor over a new pooled connection, with the node's secret from the keyring (the
    password, or the key file's passphrase)."""
    from .connection import SshConnection, SshTarget
    from .executor import SshExecutor
    secret = connecting.secret_for(node.credential_ref)
    target = SshTarget(
        node=node.name, host=node.host, port=node.effective_port, username=node.username,
        key_file=node.key_file,
        password=None if node.key_file else secret,
        passphrase=secret if node.key_file else None,
    )
    return SshExecutor(SshConnection(target, connecting.check_host_key))


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
