"""One executor per node, created on first use and reused (so SSH connections are pooled)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.models import Node
from .base import Executor
from .registry import Connecting, SecretLookup, factory_of

if TYPE_CHECKING:
    from .ssh.connection import HostKeyCheck

__all__ = ["ExecutorPool", "SecretLookup"]


class ExecutorPool:
    def __init__(self, work_root: Path, secret_for: SecretLookup, check_host_key: HostKeyCheck,
                 node_named: Callable[[str], Node] | None = None):
        self._connecting = Connecting(Path(work_root), secret_for, check_host_key, node_named)
        self._executors: dict[str, tuple[tuple, Executor]] = {}
        self._lock = threading.Lock()

    def get(self, node: Node) -> Executor:
        """The node's executor; a node whose connection settings changed gets a new one."""
        identity = (node.transport, node.host, node.effective_port, node.username, node.key_file, node.credential_ref,
                    node.winrm, node.slurm, node.encoding, tuple(node.via))
        with self._lock:
            cached = self._executors.get(node.name)
            if cached and cached[0] == identity:
                return cached[1]
            if cached:
                cached[1].close()
            executor = self._create(node)
            self._executors[node.name] = (identity, executor)
            return executor

    def _create(self, node: Node) -> Executor:
        # the registry imports paramiko and pywinrm with the first node that needs them: not on every start
        return factory_of(node).executor(node, self._connecting)

    def is_current(self, node_name: str, executor: Executor) -> bool:
        """Whether ``executor`` is still the node's (not forgotten or replaced since it was got)."""
        with self._lock:
            cached = self._executors.get(node_name)
            return cached is not None and cached[1] is executor

    def forget(self, node_name: str) -> None:
        with self._lock:
            cached = self._executors.pop(node_name, None)
        if cached:
            cached[1].close()

    def close(self) -> None:
        with self._lock:
            executors = [e for _, e in self._executors.values()]
            self._executors.clear()
        for executor in executors:
            executor.close()
        self._connecting.close()
