"""The executor of a Slurm cluster: an SSH executor for its login node (helper commands, file
transfers, the probe) whose detached operations submit batch jobs instead of starting
processes. One ``SlurmQueue`` per cluster, shared by all its node runs."""

from __future__ import annotations

import shlex

from ...core.models import SlurmSettings
from ..ssh.connection import SshConnection
from ..ssh.executor import SshExecutor
from .cluster_info import SINFO_COMMAND, ClusterInfo, parse_sinfo
from .detached import SlurmDetachedOps
from .queue import SlurmQueue


class SlurmExecutor(SshExecutor):
    def __init__(self, connection: SshConnection, settings: SlurmSettings):
        super().__init__(connection)
        self.settings = settings
        self.queue = SlurmQueue(lambda command, timeout: connection.run_quick(
            "/bin/sh -c " + shlex.quote(command), timeout, drop_on_failure=True))
        self._slurm_ops: SlurmDetachedOps | None = None

    def detached_ops(self) -> SlurmDetachedOps:
        if self._slurm_ops is None:
            self._slurm_ops = SlurmDetachedOps(self.connection, self.settings, self.queue)
        return self._slurm_ops

    def cluster_info(self) -> ClusterInfo:
        return parse_sinfo(self.connection.run_quick("/bin/sh -c " + shlex.quote(SINFO_COMMAND), 30,
                                                     drop_on_failure=True))

    def probe(self) -> dict:
        """The login node's probe, with the cluster's totals as what LabDeck may place there and
        the partitions' load."""
        probe = super().probe()
        info = self.cluster_info()
        totals = info.totals()
        probe.update({"login_cpus": probe.get("cpus"), "login_memory_mb": probe.get("memory_mb"),
                      "login_memory_free_mb": probe.pop("memory_free_mb", None), "login_load": probe.pop("load", None),
                      "cpus": totals["cpus"] or probe.get("cpus"), "memory_mb": totals["memory_mb"] or None,
                      "gpus": totals["gpus"], "slurm_version": info.version, "slurm_load": info.load_text()})
        return probe

    def close(self) -> None:
        if self._slurm_ops is not None:
            self._slurm_ops.close()
        super().close()
