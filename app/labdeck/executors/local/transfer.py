"""The transfer backend for the ``local`` node (this computer): "remote" paths are paths here,
relative ones under the home folder. Copies keep the same guarantees as the SSH backend —
part file, resume from a verified prefix, SHA-256 of the written copy, mode and mtime kept,
atomic rename."""

from __future__ import annotations

import os
import shutil
import stat as stat_mod
import threading
from pathlib import Path

from ...core.transfers import FileOutcome, FileResult, RemoteEntry
from ..transfer_base import BLOCK, ByteProgress, LocalPart, TransferCancelled, TransferError, sha256_prefix


class LocalTransfer:
    def __init__(self, node: str):
        self.node = node

    def _path(self, path: str) -> Path:
        if path in ("~", "~/"):
            path = "."
        elif path.startswith("~/"):
            path = path[2:]
        return Path(path) if os.path.isabs(path) else Path.home() / path

    def stat(self, path: str) -> RemoteEntry | None:
        p = self._path(path)
        try:
            info = p.lstat()
            if stat_mod.S_ISLNK(info.st_mode):
                info = p.stat()
        except FileNotFoundError:
            return None
        return _entry(path, info)

    def listdir(self, path: str) -> list[RemoteEntry]:
        folder = self._path(path or ".")
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError as exc:
            raise TransferError(f"node '{self.node}': folder {path} does not exist") from exc
        except OSError as exc:
            raise TransferError(f"node '{self.node}': cannot list {path} ({exc.strerror})") from exc
        entries = []
        for name in names:
            child = f"{path.rstrip('/')}/{name}" if path not in ("", ".") else name
            entries.append(_entry(child, (folder / name).lstat()))
        return entries

    def makedirs(self, path: str) -> None:
        if path:
            self._path(path).mkdir(parents=True, exist_ok=True)

    def remove(self, path: str) -> None:
        p = self._path(path)
        if p.resolve() in (Path.home().resolve(), Path("/")):
            raise TransferError(f"node '{self.node}': refusing to delete {path}")
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)

    def sha256(self, path: str, length: int | None = None) -> str:
        return sha256_prefix(self._path(path), length).hexdigest()

    def set_mtime(self, path: str, mtime: int) -> None:
        os.utime(self._path(path), (mtime, mtime))

    def upload_file(self, local: Path, remote: str, progress: ByteProgress, cancel: threading.Event) -> FileResult:
        info = local.stat()
        return self._copy(local, self._path(remote), remote, info.st_size, info.st_mode, int(info.st_mtime),
                          progress, cancel, str(local))

    def download_file(self, entry: RemoteEntry, local: Path, progress: ByteProgress,
                      cancel: threading.Event) -> FileResult:
        return self._copy(self._path(entry.path), local, entry.path, entry.size, entry.mode, entry.mtime,
                          progress, cancel, str(local))

    def _copy(self, src: Path, dst: Path, remote: str, size: int, mode: int, mtime: int, progress: ByteProgress,
              cancel: threading.Event, local_name: str) -> FileResult:
        part = LocalPart(dst)
        have = part.existing_size()
        offset = 0
        if 0 < have <= size and sha256_prefix(part.path, have).hexdigest() == sha256_prefix(src, have).hexdigest():
            offset = have
        part.open(offset)
        progress(offset)
        try:
            with open(src, "rb") as f:
                f.seek(offset)
                while block := f.read(BLOCK):
                    if cancel.is_set():
                        raise TransferCancelled(f"node '{self.node}': copy of {src.name} cancelled")
                    part.write(block)
                    progress(len(block))
            part.close()
        except BaseException:
            part.close_quietly()
            raise
        digest = sha256_prefix(src).hexdigest()
        if sha256_prefix(part.path).hexdigest() != digest:
            part.discard()
            raise TransferError(f"node '{self.node}': the copy of {src} differs (SHA-256); retry the transfer")
        part.commit(mode, mtime)
        return FileResult(local_name, remote, size, FileOutcome.RESUMED if offset else FileOutcome.COPIED, digest)

    def close(self) -> None:
        pass


def _entry(path: str, info: os.stat_result) -> RemoteEntry:
    return RemoteEntry(path=path, size=info.st_size, mtime=int(info.st_mtime), mode=info.st_mode,
                       is_dir=stat_mod.S_ISDIR(info.st_mode), is_link=stat_mod.S_ISLNK(info.st_mode))
