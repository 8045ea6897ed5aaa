"""The registry's factory for Slurm clusters: the login node is reached like an SSH node (same
host-key rules, same keyring secrets); paramiko is imported with the first executor."""

from __future__ import annotations

from ...core.errors import InvalidInput
from ...core.models import Node, Transport


class SlurmFactory:
    transport = Transport.SLURM
    over_ssh = True
    always_detached = True

    def validate(self, node: Node) -> None:
        if not node.username:
            raise InvalidInput(f"node '{node.name}' needs --user for the cluster's login node")

    def executor(self, node: Node, connecting):
        from ..ssh.factory import ssh_connection
        from .executor import SlurmExecutor
        return SlurmExecutor(ssh_connection(node, connecting), node.slurm)

    def transfer_backend(self, node: Node, executor):
        from ..ssh.sftp_transfer import SftpTransfer
        return SftpTransfer(executor.connection)

    def preflight(self, node: Node, executor, probe: dict) -> list:
        """The Slurm version and each partition's load, and whether the node's partition exists."""
        from ..winrm.preflight import PreflightCheck
        info = executor.cluster_info()
        checks = [PreflightCheck("Slurm", info.version or "?", bool(info.version),
                                 "" if info.version else "sinfo did not answer: is Slurm on the login node's PATH?")]
        names = [p.name for p in info.partitions]
        for partition in info.partitions:
            checks.append(PreflightCheck(f"partition {partition.name}", partition.load().split(": ", 1)[1], True))
        if node.slurm.partition and node.slurm.partition not in names:
            checks.append(PreflightCheck("partition", node.slurm.partition, False,
                                         f"the cluster has no partition '{node.slurm.partition}' "
                                         f"(it has {', '.join(names) or 'none'})"))
        return checks


FACTORY = SlurmFactory()
