"""The SSH transfer backend: files to and from a POSIX node over the node's pooled connection.

Throughput (measured in bench/bench_transfer.py): file data streams over an exec channel in
both directions, hashed on both sides as it moves (executors/ssh_streams.py); downloads ask for
256 KiB packets and a 2 MiB window, which paramiko receives faster than through its SFTP
prefetch. Metadata (stat, list, mkdir, rename, utime, chmod) always goes through SFTP; the
SHA-256 of a file already on the node (to skip identical files, or to check a part file before
resuming) is computed there by ``openssl dgst`` (or ``sha256sum``/``shasum``).
"""

from __future__ import annotations

import hashlib
import shlex
import stat as stat_mod
import threading
from pathlib import Path

import paramiko

from ...core.errors import NodeUnreachable
from ...core.transfers import PART_SUFFIX, FileOutcome, FileResult, RemoteEntry, remote_join
from .connection import SshConnection
from .streams import (LocalHasher, open_local, parse_digest, python_pays_off, read_digest, reader_command,
                          send_file, writer_command)
from ..transfer_base import (ByteProgress, LocalPart, TransferCancelled, TransferError, finish_download, resume_download,
                            sha256_prefix)

STREAM_WINDOW = 2 << 20         # larger windows measured slower: chunks that outgrow the CPU cache
STREAM_PACKET = 256 << 10
HELPER_TIMEOUT_S = 600  # hashing a file of many GB on a slow disk
_NET_ERRORS = (paramiko.SSHException, EOFError, ConnectionError, TimeoutError)

# openssl first: several times faster than coreutils' sha256sum where that lacks SHA-NI code.
_HASH_SCRIPT = ('if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r {file}; '
                'elif command -v sha256sum >/dev/null 2>&1; then sha256sum {file}; else shasum -a 256 {file}; fi')


def _shell_path(path: str) -> str:
    """A remote path as one shell word that no command can mistake for an option."""
    if path.startswith("-"):
        path = "./" + path
    return shlex.quote(path)


def normalize_remote(path: str) -> str:
    """SFTP does not expand ``~``: a leading ``~/`` means the login folder, which is where
    relative paths start anyway."""
    if path in ("~", "~/"):
        return "."
    return path[2:] if path.startswith("~/") else path


class SftpTransfer:
    """TransferBackend for ssh nodes. One SFTP channel per instance, opened lazily; use one
    instance per thread."""

    def __init__(self, connection: SshConnection):
        self.connection = connection
        self.node = connection.target.node
        self._sftp: paramiko.SFTPClient | None = None

    # ---- plumbing ----------------------------------------------------------------------

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is None or self._sftp.get_channel().closed:
            self._sftp = self.connection.sftp()
        return self._sftp

    def _lost(self, exc: BaseException, doing: str) -> NodeUnreachable:
        self.close()
        return NodeUnreachable(f"node '{self.node}': connection lost while {doing} ({exc})")

    def _exec(self, command: str, stdin_none: bool = True) -> tuple[int, bytes, bytes]:
        chan = self.connection.open_session()
        try:
            chan.exec_command(command)
            if stdin_none:
                chan.shutdown_write()
            chan.settimeout(HELPER_TIMEOUT_S)
            out, err = bytearray(), bytearray()
            # Until EOF, not the exit status: sshd may send the status before the last output.
            while data := chan.recv(65536):
                out += data
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
            code = chan.recv_exit_status()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if code == -1 and not self.connection.is_connected():
                raise EOFError("the command ended without an exit status")
            # -1 on a live connection: sshd closed the channel before it reaped the command, so
            # the status is unknown; callers check the output itself (a digest must parse).
            return (0 if code == -1 else code), bytes(out), bytes(err)
        except _NET_ERRORS + (OSError,) as exc:
            raise self._lost(exc, "running a helper command") from exc
        finally:
            _close_quietly(chan)

    # ---- metadata ----------------------------------------------------------------------

    def stat(self, path: str) -> RemoteEntry | None:
        path = normalize_remote(path)
        try:
            attrs = self._client().stat(path)
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise TransferError(f"node '{self.node}': no permission to read {path}") from exc
        except _NET_ERRORS as exc:
            raise self._lost(exc, f"reading {path}") from exc
        return _entry(path, attrs)

    def listdir(self, path: str) -> list[RemoteEntry]:
        path = normalize_remote(path)
        try:
            items = self._client().listdir_attr(path or ".")
        except FileNotFoundError as exc:
            raise TransferError(f"node '{self.node}': folder {path} does not exist") from exc
        except PermissionError as exc:
            raise TransferError(f"node '{self.node}': no permission to list {path}") from exc
        except _NET_ERRORS as exc:
            raise self._lost(exc, f"listing {path}") from exc
        return sorted((_entry(remote_join(path, a.filename), a) for a in items), key=lambda e: e.path)

    def makedirs(self, path: str) -> None:
        path = normalize_remote(path).rstrip("/")
        if not path or path == ".":
            return
        sftp = self._client()
        current = "/" if path.startswith("/") else ""
        for part in [p for p in path.split("/") if p]:
            current = current + part if current in ("", "/") else f"{current}/{part}"
            try:
                if stat_mod.S_ISDIR(sftp.stat(current).st_mode):
                    continue
                raise TransferError(f"node '{self.node}': {current} exists and is not a folder")
            except FileNotFoundError:
                try:
                    sftp.mkdir(current)
                except OSError as exc:  # fine if someone else made it meanwhile (a shared NFS home)
                    if not self._is_dir(current):
                        raise TransferError(f"node '{self.node}': cannot create folder {current} ({exc})") from exc
            except _NET_ERRORS as exc:
                raise self._lost(exc, f"creating {current}") from exc

    def _is_dir(self, path: str) -> bool:
        try:
            return stat_mod.S_ISDIR(self._client().stat(path).st_mode)
        except FileNotFoundError:
            return False

    def remove(self, path: str) -> None:
        path = normalize_remote(path)
        if path.rstrip("/") in ("", ".", "/"):
            raise TransferError(f"node '{self.node}': refusing to delete '{path or '.'}'")
        code, _, err = self._exec(f"rm -rf -- {_shell_path(path)}")
        if code != 0:
            raise TransferError(f"node '{self.node}': deleting {path} failed: {err.decode(errors='replace').strip()}")

    def sha256(self, path: str, length: int | None = None) -> str:
        """The SHA-256 of a remote file, or of its first ``length`` bytes."""
        path = normalize_remote(path)
        if length is None:  # the tool reads the file itself: no pipe to copy it through
            command = _HASH_SCRIPT.format(file=_shell_path(path))
        else:
            command = f"head -c {int(length)} {_shell_path(path)} | {{ {_HASH_SCRIPT.format(file='')}; }}"
        code, out, err = self._exec(command)
        digest = out.decode(errors="replace").split(" ")[0].strip().lower()
        if code != 0 or len(digest) != 64:
            raise TransferError(f"node '{self.node}': cannot hash {path} "
                                f"({err.decode(errors='replace').strip() or 'no sha256 tool'})")
        return digest

    def set_mtime(self, path: str, mtime: int) -> None:
        try:
            self._client().utime(normalize_remote(path), (mtime, mtime))
        except _NET_ERRORS as exc:
            raise self._lost(exc, f"setting the time of {path}") from exc

    # ---- upload ------------------------------------------------------------------------

    def upload_file(self, local: Path, remote: str, progress: ByteProgress, cancel: threading.Event) -> FileResult:
        remote = normalize_remote(remote)
        info = local.stat()
        # one part file per writer: nodes sharing a home folder (NFS) never write into each other's
        size, part = info.st_size, f"{remote}.{self.node}{PART_SUFFIX}"
        parent = remote.rsplit("/", 1)[0] if "/" in remote.strip("/") else ""
        self.makedirs(parent)
        offset, seed = self._resume_offset_up(local, part, size)
        if offset:
            progress(offset)
        try:
            sftp = self._client()
            if offset:
                sftp.truncate(part, offset)  # whatever came after the verified prefix goes
            hasher = LocalHasher(seed, name=f"hash-local-{self.node}")
            try:
                remote_digest = self._stream_up(local, part, offset, hasher, progress, cancel)
            finally:
                hasher.stop()
            digest = hasher.hexdigest()
            if remote_digest != digest:
                sftp.remove(part)
                raise TransferError(f"node '{self.node}': {remote} arrived damaged, or {local.name} changed while "
                                    f"being copied (SHA-256 differs); retry the transfer")
            sftp.chmod(part, stat_mod.S_IMODE(info.st_mode))
            mtime = int(info.st_mtime)
            sftp.utime(part, (mtime, mtime))
            sftp.posix_rename(part, remote)
        except PermissionError as exc:
            raise TransferError(f"node '{self.node}': no permission to write {remote}") from exc
        except OSError as exc:
            if isinstance(exc, (ConnectionError, TimeoutError)) or not self.connection.is_connected():
                raise self._lost(exc, f"uploading {remote}") from exc
            raise TransferError(f"node '{self.node}': writing {remote} failed ({exc}); is the node's disk full? "
                                f"The part written so far is kept for a retry") from exc
        except _NET_ERRORS as exc:
            raise self._lost(exc, f"uploading {remote}") from exc
        return FileResult(str(local), remote, size, FileOutcome.RESUMED if offset else FileOutcome.COPIED, digest)

    def _stream_up(self, local: Path, part: str, offset: int, hasher: LocalHasher, progress: ByteProgress,
                   cancel: threading.Event) -> str:
        """The file after ``offset`` through the node's writer; the SHA-256 the node computed."""
        src = open_local(local, offset)
        try:
            chan = self.connection.open_session()
        except NodeUnreachable:
            src.close()
            self.close()
            raise
        try:
            chan.settimeout(HELPER_TIMEOUT_S)
            chan.exec_command(writer_command(_shell_path(part), offset, _HASH_SCRIPT.format(file=_shell_path(part)),
                                             python=python_pays_off(local.stat().st_size - offset)))
            try:
                send_file(chan, src, local, hasher, progress, cancel,
                          lambda: TransferCancelled(f"node '{self.node}': upload of {local.name} cancelled"))
            except _NET_ERRORS + (OSError,):
                if not self.connection.is_connected():
                    raise
                # the writer ended before the data did (a full disk, no permission): its error
                read_digest(chan, self.node, part)
                raise
            return read_digest(chan, self.node, part)
        except _NET_ERRORS + (OSError,) as exc:
            raise self._lost(exc, f"uploading {part}") from exc
        finally:
            src.close()
            _close_quietly(chan)

    def _resume_offset_up(self, local: Path, part: str, size: int) -> tuple[int, hashlib._Hash]:
        """Where an upload continues (after a part file's prefix if it matches the local file),
        and the local hasher fed with that prefix."""
        existing = self.stat(part)
        if existing is None or existing.size == 0 or existing.size > size:
            return 0, hashlib.sha256()
        prefix = sha256_prefix(local, existing.size)
        if self.sha256(part, existing.size) == prefix.hexdigest():
            return existing.size, prefix
        return 0, hashlib.sha256()

    # ---- download ----------------------------------------------------------------------

    def download_file(self, entry: RemoteEntry, local: Path, progress: ByteProgress,
                      cancel: threading.Event) -> FileResult:
        part = LocalPart(local)
        offset, hasher = resume_download(part, entry.size, lambda length: self.sha256(entry.path, length))
        part.open(offset)
        if offset:
            progress(offset)
        local_hasher = LocalHasher(hasher, name=f"hash-local-{self.node}")  # off the receiving thread
        try:
            received, remote_digest = self._stream_down(entry, offset, part, local_hasher, progress, cancel)
            part.close()
        except BaseException:
            part.close_quietly()
            raise
        finally:
            local_hasher.stop()
        return finish_download(self.node, entry, part, offset, offset + received, local_hasher.hexdigest(),
                               remote_digest)

    def _stream_down(self, entry: RemoteEntry, offset: int, part: LocalPart, hasher: LocalHasher,
                     progress: ByteProgress, cancel: threading.Event) -> tuple[int, str]:
        """The file after ``offset`` into the part file: (bytes received, the node's SHA-256)."""
        path = _shell_path(entry.path)
        command = reader_command(path, offset, _HASH_SCRIPT.format(file=path),
                                 python=python_pays_off(entry.size - offset))
        try:
            chan = self.connection.open_session(window_size=STREAM_WINDOW, max_packet_size=STREAM_PACKET)
        except NodeUnreachable:
            self.close()
            raise
        received = 0
        try:
            chan.settimeout(HELPER_TIMEOUT_S)  # without python3 the node hashes after the last byte
            chan.exec_command(command)
            chan.shutdown_write()
            while True:
                if cancel.is_set():
                    raise TransferCancelled(f"node '{self.node}': download of {entry.path} cancelled")
                # All that is buffered at once: after a partial read paramiko moves the rest of
                # its buffer to the front (with a 16 MiB window that cost more than the copy).
                data = chan.recv(STREAM_WINDOW)
                if not data:
                    break
                received += len(data)
                hasher.feed(data)
                part.write(data)
                progress(len(data))
            code = chan.recv_exit_status()
            err = bytearray()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if code == -1 and not self.connection.is_connected():
                raise self._lost(EOFError("no exit status"), f"downloading {entry.path}")
            # -1 on a live connection: sshd closed the channel before it reaped the reader; the
            # size and SHA-256 checks decide whether everything arrived.
            text = err.decode(errors="replace")
            digest = parse_digest(text)
            if code not in (0, -1) or len(digest) != 64:
                lines = [line for line in text.strip().splitlines() if line.strip()]
                raise TransferError(f"node '{self.node}': reading {entry.path} failed "
                                    f"({lines[-1] if lines else f'exit {code}'})")
            return received, digest
        except _NET_ERRORS + (OSError,) as exc:
            raise self._lost(exc, f"downloading {entry.path}") from exc
        finally:
            _close_quietly(chan)

    def close(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # closing a channel on a dead connection
                pass
            self._sftp = None


def _close_quietly(chan: paramiko.Channel) -> None:
    try:
        chan.close()
    except _NET_ERRORS + (OSError,):  # closing a channel of a connection that just died
        pass


def _entry(path: str, attrs: paramiko.SFTPAttributes) -> RemoteEntry:
    mode = attrs.st_mode or 0
    return RemoteEntry(path=path, size=attrs.st_size or 0, mtime=int(attrs.st_mtime or 0), mode=mode,
                       is_dir=stat_mod.S_ISDIR(mode), is_link=stat_mod.S_ISLNK(mode))
