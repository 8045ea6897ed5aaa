"""The transfer queue: fans a put (distribute) or get (collect) out over its nodes with a
max-parallel limit, publishes per-node progress on the event bus (throttled), and supports
cancel (a node or the whole transfer) and retry (the nodes that failed; part files make the
retry resume). Used by the CLI, the Transfers page and job transfer steps."""

from __future__ import annotations

import builtins  # TransferManager.list shadows list in the class body
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput, LabDeckError
from ..core.models import Node
from ..core.targets import resolve_targets
from ..core.transfers import (
    Direction,
    NodeTransferResult,
    TransferFinished,
    TransferNodeFinished,
    TransferProgress,
    TransferQueued,
    node_folder,
    substitute_path,
)
from ..executors.pool import ExecutorPool
from ..executors.transfer_backends import backend_for
from ..store.catalog import Catalog
from .bus import EventBus
from .shared_destinations import SharedDestinations
from .transfer_node import NodeProgress, empty_folders, get_from_node, plan_put, put_to_node

log = logging.getLogger(__name__)
PUBLISH_EVERY_S = 0.1
PUBLISH_EVERY_BYTES = 1 << 20


@dataclass
class TransferRequest:
    """put: ``sources`` are local files/folders, ``destination`` a remote folder; get: ``sources``
    are remote paths or globs, ``destination`` a local folder that gets one subfolder per node.
    Any of them may use ``${node.name}`` and ``${option.X}``."""
    direction: Direction
    sources: list[str]
    destination: str
    targets: str
    max_parallel: int = 0
    options: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        arrow = "→" if self.direction is Direction.PUT else "←"
        return f"{self.direction} {', '.join(self.sources)} {arrow} {self.destination}"


@dataclass
class TransferSummary:
    """What crosses to the app's process for a Transfer (its events carry the progress)."""
    id: int
    request: TransferRequest
    nodes: list[str]


@dataclass
class Transfer:
    id: int
    request: TransferRequest
    nodes: list[str]
    progress: dict[str, NodeProgress] = field(default_factory=dict)
    results: dict[str, NodeTransferResult] = field(default_factory=dict)
    cancel: dict[str, threading.Event] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False

    def __wire__(self) -> TransferSummary:  # sent from the engine process: events and threads stay behind
        return TransferSummary(self.id, self.request, list(self.nodes))

    @property
    def ok(self) -> bool:
        return self.done.is_set() and all(r.ok for r in self.results.values())

    def failed_nodes(self) -> list[str]:
        return [name for name, r in self.results.items() if not r.ok]


def node_transfer(backend, request: TransferRequest, node_name: str, progress: NodeProgress,
                  cancel: threading.Event) -> NodeTransferResult:
    """One node's share of a request, run on the calling thread (job steps use this directly)."""
    def sub(text: str) -> str:
        return substitute_path(text, node_name, request.options)
    if request.direction is Direction.PUT:
        sources, remote_dir = [Path(sub(s)).expanduser() for s in request.sources], sub(request.destination)
        return put_to_node(backend, plan_put(sources, remote_dir), progress, cancel, empty_folders(sources, remote_dir))
    root = node_folder(Path(sub(request.destination)).expanduser(), node_name)
    return get_from_node(backend, [sub(s) for s in request.sources], root, progress, cancel)


class TransferManager:
    def __init__(self, catalog: Catalog, pool: ExecutorPool, bus: EventBus, max_workers: int = 64):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self._workers = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="transfer")
        self._ids = itertools.count(1)
        self._transfers: dict[int, Transfer] = {}
        self._lock = threading.Lock()

    def start(self, request: TransferRequest) -> Transfer:
        """Validate, queue and start; returns at once (``wait`` for the end)."""
        if not request.sources:
            raise InvalidInput("nothing to transfer: give at least one source")
        # a blank path would name this folder or the login folder: far more than anyone meant to copy
        if any(not s.strip() for s in request.sources):
            raise InvalidInput("an empty source path names nothing: give a file, folder or glob")
        if not request.destination.strip():
            raise InvalidInput("an empty destination names nothing: give the folder to copy into")
        nodes = resolve_targets(request.targets, self._catalog.list_nodes())
        for text in [*request.sources, request.destination]:  # unknown ${option.X}: an error before anything moves
            substitute_path(text, "node", request.options)
        if request.direction is Direction.PUT:
            for source in request.sources:
                for node in nodes:
                    path = Path(substitute_path(source, node.name, request.options)).expanduser()
                    if not path.exists():
                        raise InvalidInput(f"{path} does not exist")
        transfer = Transfer(next(self._ids), request, [n.name for n in nodes])
        with self._lock:
            self._transfers[transfer.id] = transfer
        slots = threading.Semaphore(request.max_parallel) if 0 < request.max_parallel < len(nodes) else None
        remaining = [len(nodes)]
        for node in nodes:
            transfer.cancel[node.name] = threading.Event()
            transfer.progress[node.name] = NodeProgress(node.name, on_change=self._publisher(transfer.id))
        self._bus.publish(TransferQueued(transfer.id, request.direction, request.title, tuple(transfer.nodes)))
        shared = SharedDestinations(request, nodes, lambda node: backend_for(self._pool, node))
        for node in nodes:
            self._workers.submit(self._run_node, transfer, node, slots, remaining, shared)
        return transfer

    def _run_node(self, transfer: Transfer, node: Node, slots: threading.Semaphore | None,
                  remaining: list[int], shared: SharedDestinations) -> None:
        cancel = transfer.cancel[node.name]
        progress = transfer.progress[node.name]
        holding = False
        result = None
        try:
            same_folder_as = shared.before(node, cancel)  # a node sharing the leader's folder goes after it
            while slots is not None and not holding and not cancel.is_set():
                holding = slots.acquire(timeout=0.2)
            if cancel.is_set():
                result = NodeTransferResult(node.name, False, error="cancelled before it started", cancelled=True)
            else:
                progress.started = time.monotonic()
                result = node_transfer(backend_for(self._pool, node), transfer.request, node.name, progress, cancel)
                result.shared_with = same_folder_as or ""
        except LabDeckError as exc:  # no backend for this node (a transport without transfers)
            result = NodeTransferResult(node.name, False, error=str(exc))
        except Exception as exc:  # never leave a node hanging in the queue
            log.exception("transfer %s on %s crashed", transfer.id, node.name)
            result = NodeTransferResult(node.name, False, error=str(exc) or exc.__class__.__name__)
        finally:
            shared.after(node, result is not None and result.ok)
        # The slot is given back only once the node's end is reported, so no one sees more
        # than max_parallel nodes moving at once.
        self._publish_progress(transfer.id, progress)
        transfer.results[node.name] = result
        self._bus.publish(TransferNodeFinished(transfer.id, node.name, result.ok, result.error, result.renamed_text()))
        if holding and slots is not None:
            slots.release()
        with self._lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            transfer.done.set()
            self._bus.publish(TransferFinished(transfer.id, transfer.ok, transfer.cancelled))

    def _publisher(self, transfer_id: int):
        """Every ~0.1 s, every 1% of the bytes (so bars move smoothly on fast links) and at
        each file's end."""
        last = [0.0, 0]

        def on_change(progress: NodeProgress) -> None:
            now = time.monotonic()
            step = max(PUBLISH_EVERY_BYTES, progress.bytes_total // 100)
            if (now - last[0] >= PUBLISH_EVERY_S or progress.bytes_done - last[1] >= step
                    or progress.file_done >= progress.file_total):
                last[0], last[1] = now, progress.bytes_done
                self._publish_progress(transfer_id, progress)
        return on_change

    def _publish_progress(self, transfer_id: int, p: NodeProgress) -> None:
        elapsed = max(1e-6, time.monotonic() - p.started)
        self._bus.publish(TransferProgress(transfer_id, p.node, p.file_name, p.file_done, p.file_total, p.bytes_done,
                                           p.bytes_total, p.files_done, p.files_total, p.bytes_done / elapsed))

    # ---- control -----------------------------------------------------------------------

    def get(self, transfer_id: int) -> Transfer:
        with self._lock:
            transfer = self._transfers.get(transfer_id)
        if transfer is None:
            raise InvalidInput(f"there is no transfer {transfer_id}")
        return transfer

    def list(self) -> list[Transfer]:
        with self._lock:
            return list(self._transfers.values())

    def wait(self, transfer_id: int, timeout: float | None = None) -> bool:
        return self.get(transfer_id).done.wait(timeout)

    def results(self, transfer_id: int) -> builtins.list[NodeTransferResult]:
        """Each node's outcome so far, in the transfer's node order (plain data: it crosses to clients)."""
        transfer = self.get(transfer_id)
        return [transfer.results[name] for name in transfer.nodes if name in transfer.results]

    def cancel(self, transfer_id: int, node: str | None = None) -> None:
        transfer = self.get(transfer_id)
        if node is None:
            transfer.cancelled = True
        for name, event in transfer.cancel.items():
            if node is None or name == node:
                event.set()

    def retry(self, transfer_id: int) -> Transfer:
        """The same transfer again on the nodes that failed (their part files make it resume)."""
        transfer = self.get(transfer_id)
        failed = transfer.failed_nodes()
        if not transfer.done.is_set():
            raise InvalidInput(f"transfer {transfer_id} is still going")
        if not failed:
            raise InvalidInput(f"every node of transfer {transfer_id} succeeded; nothing to retry")
        request = transfer.request
        return self.start(TransferRequest(request.direction, list(request.sources), request.destination,
                                          ",".join(failed), request.max_parallel, dict(request.options)))

    def browser(self, node_name: str):
        """A TransferBackend on one node, for listing, deleting and hashing (the remote file
        browser); one per thread, closed by the caller."""
        return backend_for(self._pool, self._catalog.get_node(node_name))

    def shutdown(self) -> None:
        for transfer in self.list():
            if not transfer.done.is_set():
                self.cancel(transfer.id)
        self._workers.shutdown(wait=True)
