"""One executor per node, created on first use and reused (so SSH connections are pooled)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InvalidInput
from ..core.models import Node, Transport
from .base import Executor
from .local import LocalExecutor

if TYPE_CHECKING:
    from .ssh_connection import HostKeyCheck

SecretLookup = Callable[[str | None], str | None]


class ExecutorPool:
    def __init__(self, work_root: Path, secret_for: SecretLookup, check_host_key: HostKeyCheck):
        self._work_root = Path(work_root)
        self._secret_for = secret_for
        self._check_host_key = check_host_key
        self._executors: dict[str, tuple[tuple, Executor]] = {}
        self._lock = threading.Lock()

    def get(self, node: Node) -> Executor:
        """The node's executor; a node whose connection settings changed gets a new one."""
        identity = (node.transport, node.host, node.effective_port, node.username, node.key_file, node.credential_ref,
                    node.winrm, node.encoding)
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
        if node.transport is Transport.LOCAL:
            return LocalExecutor(self._work_root, node.encoding, node.name)
        # paramiko and pywinrm are imported with the first node that needs them: not on every start
        if node.transport is Transport.SSH:
            from .ssh import SshExecutor
            from .ssh_connection import SshConnection, SshTarget
            secret = self._secret_for(node.credential_ref)
            target = SshTarget(
                node=node.name, host=node.host, port=node.effective_port, username=node.username,
                key_file=node.key_file,
                password=None if node.key_file else secret,
                passphrase=secret if node.key_file else None,
            )
            return SshExecutor(SshConnection(target, self._check_host_key))
        if node.transport is Transport.WINRM:
            from .winrm import executor_for as winrm_executor_for
            return winrm_executor_for(node, self._secret_for(node.credential_ref))
        raise InvalidInput(f"node '{node.name}': transport '{node.transport}' is not supported yet")

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
