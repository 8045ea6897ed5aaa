"""One node's share of a transfer, over any TransferBackend: distribute local files and folders
into a remote folder (skipping files already identical there), or collect remote paths and globs
into a local folder. Every name that comes from the node goes through safe_local_path, and on a
Windows controller through ntfs_local_names too (reserved, refused and case-colliding names get a
reversible local form, and the result lists every name that changed)."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import LabDeckError, NodeUnreachable
from ..core.ntfs_names import ntfs_local_names
from ..core.transfers import (
    PART_SUFFIX, FileOutcome, FileResult, NodeTransferResult, RemoteEntry, has_glob, remote_join, safe_local_path,
    safe_relative_parts,
)
from ..executors.transfer_base import TransferBackend, TransferCancelled, TransferError, sha256_prefix

MAX_DEPTH = 64
NTFS_NAMES = sys.platform == "win32"  # local names follow Windows' rules on a Windows controller


@dataclass
class NodeProgress:
    """Counters one node's transfer updates as bytes move; read by the manager to report."""
    node: str
    bytes_total: int = 0
    bytes_done: int = 0
    file_name: str = ""
    file_total: int = 0
    file_done: int = 0
    files_total: int = 0
    files_done: int = 0
    started: float = field(default_factory=time.monotonic)
    on_change: object = None  # callable(NodeProgress) | None

    def start_file(self, name: str, size: int) -> None:
        self.file_name, self.file_total, self.file_done = name, size, 0
        self._changed()

    def add(self, count: int) -> None:
        self.file_done += count
        self.bytes_done += count
        self._changed()

    def finish_file(self, skipped_bytes: int = 0) -> None:
        self.files_done += 1
        self.bytes_done += skipped_bytes
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


# ---- distribute ------------------------------------------------------------------------

def plan_put(sources: list[Path], remote_dir: str) -> list[tuple[Path, str]]:
    """(local file, remote path) pairs: a file lands in ``remote_dir``, a folder lands there
    under its own name with everything in it."""
    pairs: list[tuple[Path, str]] = []
    for src in sources:
        if src.is_dir():
            base = src.resolve().name
            for folder, dirs, files in os.walk(src):
                dirs.sort()
                rel = Path(folder).relative_to(src).as_posix()
                for name in sorted(files):
                    if name.endswith(PART_SUFFIX):
                        continue
                    parts = [base] + ([] if rel == "." else [rel]) + [name]
                    pairs.append((Path(folder) / name, remote_join(remote_dir, *parts)))
        elif src.is_file():
            pairs.append((src, remote_join(remote_dir, src.name)))
        else:
            raise LabDeckError(f"{src} does not exist (or is not a file or folder)")
    return pairs


def empty_folders(sources: list[Path], remote_dir: str) -> list[str]:
    """The remote paths of folders with nothing in them under the sources (created as they are)."""
    found = []
    for src in sources:
        if src.is_dir():
            base = src.resolve().name
            for folder, dirs, files in os.walk(src):
                if not dirs and not files:
                    rel = Path(folder).relative_to(src).as_posix()
                    found.append(remote_join(remote_dir, base, *([] if rel == "." else [rel])))
    return sorted(found)


def put_to_node(backend: TransferBackend, pairs: list[tuple[Path, str]], progress: NodeProgress,
                cancel: threading.Event, folders: list[str] | None = None) -> NodeTransferResult:
    local_hashes: dict[Path, str] = {}

    def work(result: NodeTransferResult) -> None:
        progress.bytes_total = sum(local.stat().st_size for local, _ in pairs)
        progress.files_total = len(pairs)
        for folder in folders or []:
            backend.makedirs(folder)
        for local, remote in pairs:
            size = local.stat().st_size
            progress.start_file(local.name, size)
            if _identical_remote(backend, local, remote, size, local_hashes):
                result.files.append(FileResult(str(local), remote, size, FileOutcome.SKIPPED))
                progress.finish_file(size)
                continue
            result.files.append(backend.upload_file(local, remote, progress.add, cancel))
            progress.finish_file()
    return _node_result(backend, progress, work)


def _node_result(backend: TransferBackend, progress: NodeProgress,
                 work: Callable[[NodeTransferResult], None]) -> NodeTransferResult:
    """A node's part of a transfer run to its end: ok, or the one-line error that stopped it."""
    result = NodeTransferResult(backend.node, ok=False)
    try:
        work(result)
        result.ok = True
    except (LabDeckError, OSError) as exc:
        _record_error(result, exc)
    finally:
        backend.close()
    result.bytes_done = progress.bytes_done
    result.seconds = time.monotonic() - progress.started
    return result


def _identical_remote(backend: TransferBackend, local: Path, remote: str, size: int, hashes: dict[Path, str]) -> bool:
    """Same size and mtime, or same size and SHA-256 (then the remote mtime is fixed up)."""
    entry = backend.stat(remote)
    if entry is None or entry.is_dir or entry.size != size:
        return False
    mtime = int(local.stat().st_mtime)
    if entry.mtime == mtime:
        return True
    if local not in hashes:
        hashes[local] = sha256_prefix(local).hexdigest()
    if backend.sha256(remote) != hashes[local]:
        return False
    backend.set_mtime(remote, mtime)
    return True


# ---- collect ---------------------------------------------------------------------------

def expand_remote(backend: TransferBackend, pattern: str) -> list[RemoteEntry]:
    """The entries a remote path or glob names, matched component by component over the
    backend's listings (no shell sees the pattern, so an option value in it cannot run anything)."""
    if not has_glob(pattern):
        entry = backend.stat(pattern)
        if entry is None:
            raise TransferError(f"node '{backend.node}': {pattern} does not exist")
        return [entry]
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    current = ["/" if absolute else ""]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        following = []
        for folder in current:
            if not has_glob(part):
                following.append(remote_join(folder, part) if folder else part)
                continue
            for entry in backend.listdir(folder or "."):
                name = entry.name
                if fnmatch.fnmatchcase(name, part) and (part.startswith(".") or not name.startswith(".")):
                    if last or entry.is_dir or entry.is_link:
                        following.append(entry.path if folder else name)
        current = following
    entries = [e for e in (backend.stat(p) for p in current) if e is not None]
    if not entries:
        raise TransferError(f"node '{backend.node}': nothing matches {pattern}")
    return entries


def _walk(backend: TransferBackend, entry: RemoteEntry, rel: str, depth: int = 0) -> list[tuple[RemoteEntry, str]]:
    """Files under a remote entry with their names relative to the collect folder; symlinked
    folders are not followed (a link loop, or a link to /, must not pull in the whole node)."""
    if not entry.is_dir:
        return [(entry, rel)]
    if depth > MAX_DEPTH:
        raise TransferError(f"node '{backend.node}': {entry.path} is nested deeper than {MAX_DEPTH} folders")
    found: list[tuple[RemoteEntry, str]] = []
    for child in backend.listdir(entry.path):
        name = child.name
        if name.endswith(PART_SUFFIX):
            continue
        if child.is_link:
            target = backend.stat(child.path)
            if target is None or target.is_dir:
                continue
            child = RemoteEntry(child.path, target.size, target.mtime, target.mode)
        found.extend(_walk(backend, child, f"{rel}/{name}", depth + 1))
    return found


def get_from_node(backend: TransferBackend, patterns: list[str], local_root: Path, progress: NodeProgress,
                  cancel: threading.Event, ntfs_names: bool | None = None) -> NodeTransferResult:
    """Collect into ``local_root`` (the caller's ``DEST/<node>``)."""
    def work(result: NodeTransferResult) -> None:
        found: list[tuple[RemoteEntry, str]] = []
        for pattern in patterns:
            for entry in expand_remote(backend, pattern):
                found.extend(_walk(backend, entry, posixpath.basename(entry.path.rstrip("/"))))
        for _, rel in found:
            safe_relative_parts(rel)  # a name that could leave the folder is refused before any mapping
        names = ntfs_local_names([rel for _, rel in found]) if (NTFS_NAMES if ntfs_names is None else ntfs_names) \
            else {}
        files: list[tuple[RemoteEntry, Path]] = []
        for item, rel in found:
            local_rel = names[rel].local if rel in names else rel
            if local_rel != rel:
                result.renamed.append((rel, local_rel))
            files.append((item, safe_local_path(local_root, local_rel)))
        progress.bytes_total = sum(e.size for e, _ in files)
        progress.files_total = len(files)
        for entry, local in files:
            progress.start_file(entry.name, entry.size)
            if _identical_local(entry, local):
                result.files.append(FileResult(str(local), entry.path, entry.size, FileOutcome.SKIPPED))
                progress.finish_file(entry.size)
                continue
            result.files.append(backend.download_file(entry, local, progress.add, cancel))
            progress.finish_file()
    return _node_result(backend, progress, work)


def _identical_local(entry: RemoteEntry, local: Path) -> bool:
    try:
        info = local.stat()
    except FileNotFoundError:
        return False
    return info.st_size == entry.size and int(info.st_mtime) == entry.mtime


def _record_error(result: NodeTransferResult, exc: BaseException) -> None:
    result.error = _one_line(exc)
    result.unreachable = isinstance(exc, NodeUnreachable)
    result.cancelled = isinstance(exc, TransferCancelled)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, NodeUnreachable):
        return f"{exc} — retry to resume"
    text = str(exc) if isinstance(exc, LabDeckError) else f"{exc.__class__.__name__}: {exc}"
    return " ".join(text.split())
