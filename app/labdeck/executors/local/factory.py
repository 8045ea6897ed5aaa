"""The registry's factory for this computer (transport ``local``)."""

from __future__ import annotations

from ...core.models import Node, Transport
from .executor import LocalExecutor
from .transfer import LocalTransfer


class LocalFactory:
    transport = Transport.LOCAL
    over_ssh = False
    always_detached = False

    def validate(self, node: Node) -> None:
        pass

    def executor(self, node: Node, connecting) -> LocalExecutor:
        return LocalExecutor(connecting.work_root, node.encoding, node.name)

    def transfer_backend(self, node: Node, executor) -> LocalTransfer:
        return LocalTransfer(node.name)

    def preflight(self, node: Node, executor, probe: dict) -> list:
        return []


FACTORY = LocalFactory()
