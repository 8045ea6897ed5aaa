"""Which executor serves a transport: one factory per executor subpackage (``local/``,
``ssh/``, ``winrm/``, ``slurm/``), named here by module path and imported with the first node of that
transport, so paramiko and pywinrm stay out of the CLI's start-up. Adding an executor is one
subpackage with a ``factory`` module and one line in ``FACTORY_MODULES``."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..core.errors import InvalidInput
from ..core.models import Node, Transport

if TYPE_CHECKING:
    from .base import Executor
    from .ssh.connection import HostKeyCheck
    from .transfer_base import TransferBackend

SecretLookup = Callable[[str | None], str | None]

# transport -> the module (relative to this package) whose FACTORY serves it
FACTORY_MODULES: dict[Transport, str] = {
    Transport.LOCAL: ".local.factory",
    Transport.SSH: ".ssh.factory",
    Transport.WINRM: ".winrm.factory",
    Transport.SLURM: ".slurm.factory",
}


@dataclass(frozen=True)
class Connecting:
    """What a factory needs besides the node to build its executor."""
    work_root: Path                 # where this computer's runs keep their folders
    secret_for: SecretLookup        # keyring lookup by credential reference
    check_host_key: HostKeyCheck    # the catalog's host-key rules (nodes reached over SSH)
    node_named: Callable[[str], Node] | None = None  # catalog lookup: jump hosts are nodes
    _jumps: dict = field(default_factory=dict, compare=False, repr=False)  # the JumpHosts pool, made on first use

    def jump_hosts(self):
        """The pooled connections to jump hosts (executors/ssh/jumps.py)."""
        if self.node_named is None:
            raise InvalidInput("this engine cannot reach nodes through jump hosts (no catalog to find them in)")
        from .ssh.jumps import JumpHosts
        with _JUMPS_LOCK:
            if "pool" not in self._jumps:
                self._jumps["pool"] = JumpHosts(self.secret_for, self.check_host_key)
            return self._jumps["pool"]

    def close(self) -> None:
        with _JUMPS_LOCK:
            pool = self._jumps.pop("pool", None)
        if pool is not None:
            pool.close()


_JUMPS_LOCK = threading.Lock()


class ExecutorFactory(Protocol):
    transport: Transport
    over_ssh: bool
    """Reached over SSH: the node's host key is fetched, shown, accepted and checked."""
    always_detached: bool
    """Every node run is one detached launch (a batch scheduler's job), whatever the job's launch mode."""

    def validate(self, node: Node) -> None:
        """Refuse, with one line, settings this transport cannot use (on add and update)."""

    def executor(self, node: Node, connecting: Connecting) -> Executor:
        """A new executor for the node (the pool keeps one per node)."""

    def transfer_backend(self, node: Node, executor: Executor) -> TransferBackend:
        """A fresh file-transfer backend over the node's pooled executor (one per thread)."""

    def preflight(self, node: Node, executor: Executor, probe: dict) -> list:
        """Checks ``node test`` shows beyond the probe (objects with name, value, ok, advice)."""


def factory_for(transport: Transport | str) -> ExecutorFactory:
    """The factory of a transport, its module imported on first use."""
    try:
        module = FACTORY_MODULES[Transport(transport)]
    except (ValueError, KeyError):
        known = ", ".join(t.value for t in FACTORY_MODULES)
        raise InvalidInput(f"transport '{transport}' is not supported: use one of {known}") from None
    return importlib.import_module(module, __package__).FACTORY


def factory_of(node: Node) -> ExecutorFactory:
    return factory_for(node.transport)
