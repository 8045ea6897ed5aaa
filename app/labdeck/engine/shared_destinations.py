"""Nodes that write into one shared folder (NFS home folders are common in labs): a ``put``
sends the data once. Nodes whose destination and sources read the same after ``${node.name}``
substitution form a group; its first node (the leader) leaves a marker file with a random
name in the destination folder, and every other node looks for it through its own connection.
A node that sees it shares the filesystem: it waits for the leader to finish, then runs its own
``put``, which finds every file already there (same size and time) and skips it. A node that
does not see it, or whose leader failed, uploads as usual -- each writer has its own part file,
so nothing is ever written twice into one file. Checking a marker costs one small upload and a
stat per node, so it is done only for groups of two or more nodes."""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ..core.models import Node
from ..core.transfers import Direction, remote_join, substitute_path

log = logging.getLogger(__name__)
CHECK_WAIT_S = 60.0  # how long a leader keeps its marker for the others to look


class _Group:
    def __init__(self, destination: str, members: list[str]):
        self.destination = destination
        self.leader = members[0]
        self.followers = set(members[1:])
        self.marker: str | None = None
        self.token = secrets.token_hex(8)
        self.ready = threading.Event()        # the leader has made its marker (or given up)
        self.leader_done = threading.Event()
        self.leader_ok = False
        self.checked: set[str] = set()
        self.all_checked = threading.Event()
        self.lock = threading.Lock()


class SharedDestinations:
    def __init__(self, request, nodes: list[Node], backend_for: Callable[[Node], object]):
        self._backend_for = backend_for
        self._groups: dict[str, _Group] = {}
        if request.direction is not Direction.PUT:
            return
        by_key: dict[tuple, list[Node]] = {}
        for node in nodes:
            key = (str(node.transport), tuple(substitute_path(s, node.name, request.options) for s in request.sources),
                   substitute_path(request.destination, node.name, request.options))
            by_key.setdefault(key, []).append(node)
        for key, members in by_key.items():
            if len(members) > 1:
                group = _Group(key[2], [n.name for n in members])
                for node in members:
                    self._groups[node.name] = group

    def before(self, node: Node, cancel: threading.Event) -> str | None:
        """Called before a node's put: the leader makes its marker; another node returns the
        leader's name when it shares the folder (once the leader has finished successfully)."""
        group = self._groups.get(node.name)
        if group is None:
            return None
        if node.name == group.leader:
            self._make_marker(node, group)
            return None
        shared = False
        if _wait(group.ready, cancel) and group.marker is not None:
            shared = self._sees_marker(node, group)
        with group.lock:
            group.checked.add(node.name)
            if group.checked >= group.followers:
                group.all_checked.set()
        if shared and _wait(group.leader_done, cancel) and group.leader_ok:
            return group.leader
        return None

    def after(self, node: Node, ok: bool) -> None:
        group = self._groups.get(node.name)
        if group is None or node.name != group.leader:
            return
        group.leader_ok = ok
        group.leader_done.set()
        if group.marker is not None:
            group.all_checked.wait(CHECK_WAIT_S)
            self._with_backend(node, lambda backend: backend.remove(group.marker))

    def _make_marker(self, node: Node, group: _Group) -> None:
        marker = remote_join(group.destination, f".labdeck-share-{group.token}")
        try:
            with tempfile.TemporaryDirectory(prefix="labdeck-share-") as folder:
                local = Path(folder) / "marker"
                local.write_text(group.token)

                def upload(backend) -> None:
                    backend.makedirs(group.destination)
                    backend.upload_file(local, marker, lambda _n: None, threading.Event())
                if self._with_backend(node, upload):
                    group.marker = marker
        finally:
            group.ready.set()

    def _sees_marker(self, node: Node, group: _Group) -> bool:
        found: list = []
        self._with_backend(node, lambda backend: found.append(backend.stat(group.marker)))
        entry = found[0] if found else None
        return entry is not None and not entry.is_dir and entry.size == len(group.token)

    def _with_backend(self, node: Node, action) -> bool:
        backend = None
        try:
            backend = self._backend_for(node)
            action(backend)
            return True
        except Exception as exc:  # noqa: BLE001 - the check only saves traffic; the put goes on without it
            log.info("shared-folder check on %s: %s", node.name, exc)
            return False
        finally:
            if backend is not None:
                try:
                    backend.close()
                except Exception:  # noqa: BLE001
                    pass


def _wait(event: threading.Event, cancel: threading.Event) -> bool:
    while not event.wait(0.2):
        if cancel.is_set():
            return False
    return True


