"""The registry's factory for Windows nodes over WinRM; pywinrm (and smbprotocol) are imported
when the first executor or transfer is made, not when this module is."""

from __future__ import annotations

from ...core.errors import InvalidInput
from ...core.models import Node, Transport
from .commands import codepage_for


class WinrmFactory:
    transport = Transport.WINRM
    over_ssh = False
    always_detached = False

    def validate(self, node: Node) -> None:
        if not node.username:
            raise InvalidInput(f"node '{node.name}' needs --user for WinRM "
                               "(DOMAIN\\user or user@domain for a domain account)")
        codepage_for(node.encoding)  # an encoding Windows has no code page for is refused here, not at run time

    def executor(self, node: Node, connecting):
        from .executor import executor_for
        return executor_for(node, connecting.secret_for(node.credential_ref))

    def transfer_backend(self, node: Node, executor):
        """SMB when the node has it on and its share answers, else the PowerShell helpers over
        the node's pooled WinRM shells."""
        from .transfer import WinrmTransfer
        from .transfer_choice import smb_or_chunked
        return smb_or_chunked(node, executor, chunked=lambda: WinrmTransfer(executor))

    def preflight(self, node: Node, executor, probe: dict) -> list:
        """The WinRM quotas that break long jobs, and the SMB share when the node uses it."""
        checks = executor.preflight()
        if node.winrm.smb:
            from .transfer_choice import smb_check
            checks.append(smb_check(node, executor, probe))
        return checks


FACTORY = WinrmFactory()
