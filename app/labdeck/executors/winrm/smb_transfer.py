"""The SMB transfer backend: files to and from a Windows node through its share (smbprotocol),
with the WinRM login. Paths map onto the share as core/smb_paths.py says.

Throughput: pipelined multi-credit reads and writes (smb_io.py). SMB 3 signing is required, so
every message is integrity-checked on the wire.

Verification (measured in bench/bench_smb.py): SMB has no remote hashing, so the only way to
hash a remote file is to read it back over the wire, which measured +60% to +99% upload time
on loopback (a full second pass on a real link). An upload therefore hashes the bytes it sent
(the resumed part's prefix read from the local file, then each block as it goes out): signing
guards them on the wire, the part's size on the node is checked, and the source's size and
times before and after catch a file that changed mid-copy. A download hashes what it receives
and checks the remote size and mtime did not change while it read. ``sha256()`` does read the
remote file back (the remote browser and put's "already identical?" check use it).

Resume: checking a whole prefix by reading it back would move as many bytes as sending them
again, so a part file is resumed when it is the same file's beginning by cheaper evidence: no
larger than the source and written after the source last changed; the last window of
pipelined writes is dropped (those may have landed out of order, leaving a hole), and the
first, middle and last MiB of what is kept must equal the source's bytes there. Anything else
starts over. Not covered: a node that lost power after acknowledging writes it had not yet
put on disk (a resume could keep a zeroed stretch the samples miss).
"""

from __future__ import annotations

import hashlib
import stat as stat_mod
import threading
from pathlib import Path

import smbclient
import smbclient.path
import smbclient.shutil
from smbprotocol.exceptions import SMBAuthenticationError, SMBException, SMBOSError, SMBResponseException
from smbprotocol.header import NtStatus

from ...core.errors import AuthenticationFailed, NodeUnreachable
from ...core.smb_paths import ADMIN_SHARE, SmbLayout
from ...core.transfers import PART_SUFFIX, FileOutcome, FileResult, RemoteEntry, remote_join
from .smb_io import IN_FLIGHT, ShortTransfer, read_pipelined, write_pipelined
from ..transfer_base import ByteProgress, LocalPart, TransferCancelled, TransferError, sha256_prefix

SAMPLE = 1 << 20            # bytes compared at each end of a part file before resuming it
CONNECT_TIMEOUT_S = 3.0
_MISSING = (NtStatus.STATUS_OBJECT_NAME_NOT_FOUND, NtStatus.STATUS_OBJECT_PATH_NOT_FOUND, NtStatus.STATUS_NOT_FOUND)
_LOGIN = (NtStatus.STATUS_LOGON_FAILURE, NtStatus.STATUS_WRONG_PASSWORD, NtStatus.STATUS_PASSWORD_EXPIRED,
          0xC0000072, 0xC0000234)  # account disabled, account locked out
_DIRECTORY, _READONLY = 0x10, 0x1  # FILE_ATTRIBUTE_*
_DROPPED = (NtStatus.STATUS_NETWORK_NAME_DELETED, NtStatus.STATUS_USER_SESSION_DELETED)


class SmbTransfer:
    """TransferBackend over one SMB connection of its own (one instance per thread)."""

    def __init__(self, node: str, layout: SmbLayout, username: str, password: str | None, port: int = 445,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S):
        self.node = node
        self.layout = layout
        self.username = username
        self.password = password
        self.port = port
        self.connect_timeout_s = connect_timeout_s
        self._cache: dict = {}  # this instance's connections, closed by close()

    # ---- plumbing ----------------------------------------------------------------------

    @property
    def _kw(self) -> dict:
        return {"port": self.port, "connection_cache": self._cache}

    @property
    def where(self) -> str:
        return f"\\\\{self.layout.host}\\{self.layout.share}"

    def connect(self) -> None:
        """Session setup and a look at the share: NodeUnreachable, AuthenticationFailed, or
        TransferError (the share is missing or refused)."""
        try:
            smbclient.register_session(self.layout.host, username=self.username, password=self.password,
                                       connection_timeout=self.connect_timeout_s, **self._kw)
            smbclient.stat(self.where, **self._kw)
        except Exception as exc:
            raise self._translate(exc, f"connecting to {self.where}:{self.port}") from exc

    def _translate(self, exc: BaseException, doing: str) -> Exception:
        """An smbprotocol failure as the LabDeck error a user can act on."""
        status = getattr(exc, "ntstatus", None)
        if status is None and isinstance(exc, SMBResponseException):
            status = exc.status
        if isinstance(exc, SMBAuthenticationError) or status in _LOGIN:
            self.close()
            return AuthenticationFailed(
                f"node '{self.node}': the SMB share {self.where} refused the login of '{self.username}' "
                f"(wrong user name or password?); fix the node's password (the same as its WinRM login) and retry")
        if status == NtStatus.STATUS_ACCESS_DENIED:
            hint = " (an admin share needs an administrator account)" if ADMIN_SHARE.match(self.layout.share) else ""
            return TransferError(f"node '{self.node}': no permission while {doing} on {self.where}{hint}")
        if status == NtStatus.STATUS_BAD_NETWORK_NAME:
            return TransferError(f"node '{self.node}': there is no share {self.where}; check the node's SMB share")
        if status == NtStatus.STATUS_DISK_FULL:
            return TransferError(f"node '{self.node}': the node's disk is full while {doing}; free space there "
                                 f"and retry (the part written so far is kept)")
        if status == NtStatus.STATUS_END_OF_FILE:
            return TransferError(f"node '{self.node}': a file got shorter while {doing}; retry when it is complete")
        if isinstance(exc, SMBResponseException) and status not in _DROPPED:
            return TransferError(f"node '{self.node}': {doing} failed ({exc.message})")
        # smbprotocol reports a refused TCP connect as ValueError("Failed to connect to ...").
        refused = isinstance(exc, ValueError) and str(exc).startswith("Failed to connect")
        if refused or status in _DROPPED or isinstance(exc, (SMBException, ConnectionError, TimeoutError)) or (
                isinstance(exc, OSError) and not isinstance(exc, SMBOSError)):
            self.close()
            return NodeUnreachable(f"node '{self.node}': SMB connection to {self.where} lost while {doing} "
                                   f"({str(exc) or exc.__class__.__name__})")
        if isinstance(exc, SMBOSError):
            return TransferError(f"node '{self.node}': {doing} failed ({exc.strerror})")
        return exc if isinstance(exc, Exception) else TransferError(str(exc))

    def _unc(self, path: str) -> str:
        return self.layout.unc(path)

    def _check(self, cancel: threading.Event | None, what: str) -> None:
        if cancel is not None and cancel.is_set():
            raise TransferCancelled(f"node '{self.node}': {what} cancelled")

    # ---- metadata ----------------------------------------------------------------------

    def stat(self, path: str) -> RemoteEntry | None:
        try:
            info = smbclient.stat(self._unc(path), **self._kw)
        except SMBOSError as exc:
            if exc.ntstatus in _MISSING:
                return None
            raise self._translate(exc, f"reading {path}") from exc
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"reading {path}") from exc
        return _entry(path, info.st_mode, info.st_size, info.st_mtime, False)

    def listdir(self, path: str) -> list[RemoteEntry]:
        found = []
        try:
            for item in smbclient.scandir(self._unc(path or "."), **self._kw):
                # The listing's own attributes: DirEntry.stat() would reconnect on port 445.
                info = item.smb_info
                attrs = info.file_attributes
                mode = stat_mod.S_IFDIR if attrs & _DIRECTORY else stat_mod.S_IFREG | (0o444 if attrs & _READONLY
                                                                                         else 0o644)
                found.append(_entry(remote_join(path, item.name), mode, info.end_of_file,
                                    info.last_write_time.timestamp(), item.is_symlink()))
        except SMBOSError as exc:
            if exc.ntstatus in _MISSING:
                raise TransferError(f"node '{self.node}': folder {path} does not exist") from exc
            raise self._translate(exc, f"listing {path}") from exc
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"listing {path}") from exc
        return sorted(found, key=lambda e: e.path)

    def makedirs(self, path: str) -> None:
        if path.strip("/") in ("", ".", "~"):
            return
        try:
            smbclient.makedirs(self._unc(path), exist_ok=True, **self._kw)
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"creating folder {path}") from exc

    def remove(self, path: str) -> None:
        unc = self._unc(path)
        if path.strip("/") in ("", ".", "~") or unc.rstrip("\\").count("\\") <= 3:
            raise TransferError(f"node '{self.node}': refusing to delete '{path or '.'}'")
        try:
            if smbclient.path.isdir(unc, **self._kw):
                smbclient.shutil.rmtree(unc, **self._kw)
            else:
                smbclient.remove(unc, **self._kw)
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"deleting {path}") from exc

    def sha256(self, path: str, length: int | None = None) -> str:
        """Read back over the wire: SMB cannot hash on the node."""
        hasher = hashlib.sha256()
        self._read_into(path, 0, length, hasher.update)
        return hasher.hexdigest()

    def set_mtime(self, path: str, mtime: int) -> None:
        try:
            smbclient.utime(self._unc(path), times=(mtime, mtime), **self._kw)
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"setting the time of {path}") from exc

    def _read_into(self, path: str, offset: int, length: int | None, sink, cancel: threading.Event | None = None,
                   progress: ByteProgress | None = None) -> int:
        """Feed ``sink`` with the file's bytes from ``offset`` (``length`` of them, or to the end
        it had when opened); returns how many."""
        try:
            with smbclient.open_file(self._unc(path), "rb", buffering=0, **self._kw) as src:
                end = src.fd.end_of_file if length is None else min(src.fd.end_of_file, offset + length)

                def take(data: bytes) -> None:
                    sink(data)
                    if progress is not None:
                        progress(len(data))
                return read_pipelined(src.fd, offset, end, take, lambda: self._check(cancel, f"download of {path}"))
        except ShortTransfer as exc:
            raise TransferError(f"node '{self.node}': {path} got shorter while being read ({exc}); retry when it "
                                f"is complete") from exc
        except SMBOSError as exc:
            if exc.ntstatus in _MISSING:
                raise TransferError(f"node '{self.node}': {path} does not exist") from exc
            raise self._translate(exc, f"reading {path}") from exc
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"reading {path}") from exc

    def _read_bytes(self, path: str, offset: int, length: int) -> bytes:
        out = bytearray()
        self._read_into(path, offset, length, out.extend)
        return bytes(out)

    # ---- upload ------------------------------------------------------------------------

    def upload_file(self, local: Path, remote: str, progress: ByteProgress, cancel: threading.Event) -> FileResult:
        info = local.stat()
        size, part = info.st_size, remote + PART_SUFFIX
        if "/" in remote.strip("/"):
            self.makedirs(remote.rstrip("/").rsplit("/", 1)[0])
        offset = self._resume_offset_up(local, part, size, info.st_mtime)
        hasher = sha256_prefix(local, offset) if offset else hashlib.sha256()
        if offset:
            progress(offset)
        try:
            with open(local, "rb") as src, \
                    smbclient.open_file(self._unc(part), "r+b" if offset else "wb", buffering=0, **self._kw) as dst:
                if offset:
                    dst.truncate(offset)  # whatever came after the verified prefix goes
                    dst.seek(offset)
                    src.seek(offset)
                write_pipelined(dst.fd, src, offset, hasher.update, progress,
                                lambda: self._check(cancel, f"upload of {local.name}"))
            written = smbclient.stat(self._unc(part), **self._kw).st_size
        except ShortTransfer as exc:
            raise TransferError(f"node '{self.node}': the node stored less than it was sent for {remote} ({exc}); "
                                f"is its disk full? The part written so far is kept for a retry") from exc
        except (SMBException, OSError, ValueError) as exc:
            if isinstance(exc, (FileNotFoundError, PermissionError)) and not isinstance(exc, SMBOSError):
                raise TransferError(f"cannot read {local} ({exc.strerror})") from exc
            raise self._translate(exc, f"uploading {remote}") from exc
        digest = hasher.hexdigest()
        if _changed(info, local.stat()) or written != size:
            self.remove(part)
            raise TransferError(f"node '{self.node}': {local.name} changed while being copied to {remote} "
                                f"(its size or modification time moved); retry the transfer")
        mtime = int(info.st_mtime)
        try:
            smbclient.utime(self._unc(part), times=(mtime, mtime), **self._kw)
            smbclient.replace(self._unc(part), self._unc(remote), **self._kw)
        except (SMBException, OSError, ValueError) as exc:
            raise self._translate(exc, f"renaming {part} to {remote}") from exc
        return FileResult(str(local), remote, size, FileOutcome.RESUMED if offset else FileOutcome.COPIED, digest)

    def _resume_offset_up(self, local: Path, part: str, size: int, local_mtime: float) -> int:
        existing = self.stat(part)
        if existing is None or existing.size > size or existing.mtime < int(local_mtime):
            return 0
        # The writes in flight when the copy stopped may have landed out of order: a later one
        # can have grown the file past a hole an earlier one never filled. Every byte before
        # the last window was acknowledged before the next write left, so resume there.
        kept = existing.size - IN_FLIGHT
        if kept <= 0:
            return 0
        with open(local, "rb") as f:
            for start, count in _samples(kept):
                f.seek(start)
                if f.read(count) != self._read_bytes(part, start, count):
                    return 0
        return kept

    # ---- download ----------------------------------------------------------------------

    def download_file(self, entry: RemoteEntry, local: Path, progress: ByteProgress,
                      cancel: threading.Event) -> FileResult:
        part = LocalPart(local)
        offset = self._resume_offset_down(entry, part)
        hasher = sha256_prefix(part.path, offset) if offset else hashlib.sha256()
        part.open(offset)
        if offset:
            progress(offset)

        def take(data) -> None:
            hasher.update(data)
            part.write(data)
        try:
            received = offset + self._read_into(entry.path, offset, None, take, cancel, progress)
            part.close()
        except BaseException:
            part.close_quietly()
            raise
        after = self.stat(entry.path)
        if received != entry.size or after is None or (after.size, after.mtime) != (entry.size, entry.mtime):
            raise TransferError(f"node '{self.node}': {entry.path} changed while being copied; "
                                f"retry when it is complete")
        part.commit(entry.mode, entry.mtime)
        return FileResult(str(local), entry.path, entry.size,
                          FileOutcome.RESUMED if offset else FileOutcome.COPIED, hasher.hexdigest())

    def _resume_offset_down(self, entry: RemoteEntry, part: LocalPart) -> int:
        have = part.existing_size()
        if not 0 < have <= entry.size or part.path.stat().st_mtime < entry.mtime:
            return 0
        with open(part.path, "rb") as f:
            for start, count in _samples(have):
                f.seek(start)
                if f.read(count) != self._read_bytes(entry.path, start, count):
                    return 0
        return have

    def close(self) -> None:
        cache, self._cache = self._cache, {}
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def _samples(size: int) -> list[tuple[int, int]]:
    """(offset, length) of the first, middle and last MiB of ``size`` bytes (all of them if small)."""
    if size <= 3 * SAMPLE:
        return [(0, size)]
    return [(0, SAMPLE), ((size - SAMPLE) // 2, SAMPLE), (size - SAMPLE, SAMPLE)]


def _changed(before, after) -> bool:
    return (before.st_size, before.st_mtime_ns, before.st_ctime_ns) != (after.st_size, after.st_mtime_ns,
                                                                        after.st_ctime_ns)


def _entry(path: str, st_mode: int, size: int, mtime: float, is_link: bool) -> RemoteEntry:
    """Windows has no POSIX modes: a folder is 0755, a file 0644 (0444 if read-only)."""
    is_dir = stat_mod.S_ISDIR(st_mode)
    perms = 0o755 if is_dir else (0o644 if st_mode & 0o200 else 0o444)
    mode = (stat_mod.S_IFDIR if is_dir else stat_mod.S_IFREG) | perms
    return RemoteEntry(path=path, size=0 if is_dir else size, mtime=int(mtime), mode=mode, is_dir=is_dir,
                       is_link=is_link)
