"""The seam between the transfer engine and a transport: the TransferBackend protocol each
transport implements (SFTP, SMB, WinRM's chunked PowerShell, local copies), and the local-disk
side every backend shares — a ``NAME.labdeck-part`` file written in place, resumed from a
verified prefix, and renamed to the final name only once its SHA-256 matches."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..core.errors import LabDeckError
from ..core.transfers import PART_SUFFIX, FileOutcome, FileResult, RemoteEntry

ByteProgress = Callable[[int], None]
"""Called with the number of bytes just moved (not a running total)."""

BLOCK = 1 << 20
ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION = 5, 32, 33


class TransferError(LabDeckError):
    """A transfer could not finish (verification failed, a file changed underneath, no space)."""


class TransferCancelled(LabDeckError):
    """The user cancelled the transfer; part files are kept so a retry resumes."""


class LocalDiskFull(TransferError):
    """The local disk filled up while a download was being written."""


class TransferBackend(Protocol):
    """File operations on one node. Remote paths are POSIX-style strings; relative ones are
    relative to the login folder. Every method raises NodeUnreachable when the node drops."""
    node: str

    def stat(self, path: str) -> RemoteEntry | None: ...

    def listdir(self, path: str) -> list[RemoteEntry]: ...

    def makedirs(self, path: str) -> None: ...

    def remove(self, path: str) -> None:
        """A file, or a folder with everything in it."""

    def sha256(self, path: str, length: int | None = None) -> str:
        """Of the file, or of its first ``length`` bytes (to check a part file before resuming)."""

    def set_mtime(self, path: str, mtime: int) -> None: ...

    def upload_file(self, local: Path, remote: str, progress: ByteProgress, cancel: threading.Event) -> FileResult:
        """Write ``remote`` via ``remote.labdeck-part`` (resumed if a verified prefix is there),
        verify SHA-256, keep mode and mtime, then rename into place."""

    def download_file(self, entry: RemoteEntry, local: Path, progress: ByteProgress,
                      cancel: threading.Event) -> FileResult:
        """The same in the other direction, through LocalPart."""

    def close(self) -> None: ...


def sha256_prefix(path: Path, length: int | None = None) -> hashlib._Hash:
    """A hasher fed with the first ``length`` bytes of a local file (all of it if None)."""
    hasher = hashlib.sha256()
    left = length
    with open(path, "rb") as f:
        while left is None or left > 0:
            block = f.read(BLOCK if left is None else min(BLOCK, left))
            if not block:
                break
            hasher.update(block)
            if left is not None:
                left -= len(block)
    return hasher


class LocalPart:
    """The part file a download writes into, next to its final name.

    ``open(offset)`` truncates to the verified prefix; ``write`` turns a full disk into
    LocalDiskFull with a message saying what to do; ``commit`` sets mode and mtime and renames
    atomically; nothing is ever written under the final name before that."""

    def __init__(self, final: Path):
        self.final = final
        self.path = final.with_name(final.name + PART_SUFFIX)
        self._file = None

    def existing_size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def open(self, offset: int) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = open(self.path, "r+b" if offset else "wb")
            if offset:
                self._file.truncate(offset)
                self._file.seek(offset)
        except OSError as exc:
            raise self._error(exc) from exc

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:  # the last buffered write can fail here
                self._file = None
                raise self._error(exc) from exc
            self._file = None

    def discard(self) -> None:
        self.close_quietly()
        self.path.unlink(missing_ok=True)

    def close_quietly(self) -> None:
        try:
            self.close()
        except TransferError:
            pass

    def commit(self, mode: int, mtime: int) -> None:
        self.close()
        try:
            os.chmod(self.path, mode & 0o7777 or 0o644)
            os.utime(self.path, (mtime, mtime))
            make_replaceable(self.final)
            os.replace(self.path, self.final)
        except PermissionError as exc:
            if is_windows_refusal(exc):
                raise TransferError(
                    f"cannot replace {self.final}: Windows says another program has it open; close it in the program "
                    f"that has it open and retry (the new copy is kept as {self.path.name})") from exc
            raise self._error(exc) from exc
        except OSError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> TransferError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return LocalDiskFull(
                f"local disk full while writing {self.final} ({exc.strerror}); free space on that disk and retry — "
                f"the {self.existing_size()} bytes already received are kept in {self.path.name} and the retry resumes")
        return TransferError(f"cannot write {self.final} ({exc.strerror or exc})")


def make_replaceable(path: Path) -> None:
    """Clear a read-only file's read-only attribute (a node's mode 0444 makes it read-only here),
    which Windows requires before a file can be replaced. A missing file needs nothing."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not mode & stat.S_IWRITE:
        os.chmod(path, stat.S_IMODE(mode) | stat.S_IWRITE)


def is_windows_refusal(exc: OSError) -> bool:
    """Windows refusing to replace a file because a program holds it open (or it is still read-only)."""
    return getattr(exc, "winerror", None) in (ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION) \
        or (sys.platform == "win32" and exc.errno == errno.EACCES)


def resume_download(part: LocalPart, size: int,
                    remote_prefix_sha256: Callable[[int], str]) -> tuple[int, hashlib._Hash]:
    """Where a download continues (after the local part file's prefix when the node's file starts
    with the same bytes, else at 0), and a hasher fed with that prefix."""
    have = part.existing_size()
    if 0 < have <= size:
        prefix = sha256_prefix(part.path, have)
        if remote_prefix_sha256(have) == prefix.hexdigest():
            return have, prefix
    return 0, hashlib.sha256()


def finish_download(node: str, entry: RemoteEntry, part: LocalPart, offset: int, total: int, digest: str,
                    remote_digest: str) -> FileResult:
    """The checks every download ends with (all of the file came, and its SHA-256 is the node's),
    then the part file is renamed into place with the node's mode and mtime."""
    if total != entry.size:
        raise TransferError(f"node '{node}': {entry.path} changed size while being copied "
                            f"({entry.size} -> {total} bytes); retry when it is complete")
    if remote_digest != digest:
        part.discard()
        raise TransferError(f"node '{node}': {entry.path} arrived damaged or changed while being copied "
                            f"(SHA-256 differs); retry the transfer")
    part.commit(entry.mode, entry.mtime)
    return FileResult(str(part.final), entry.path, entry.size, FileOutcome.RESUMED if offset else FileOutcome.COPIED,
                      digest)
