"""The WinRM transfer backend: files to and from a Windows node through PowerShell helpers
(``winrm_transfer_scripts``) run on the node's pooled WinRM shells.

Each operation is one helper command. An upload is a conversation with one ``xfer-put``: the
node reports the part file it already has (size and SHA-256), LabDeck compares that prefix
with its own file and answers where to continue, then sends the rest as base64 lines, one per
WS-Man Send of ``UPLOAD_CHUNK`` raw bytes (measured in bench/bench_winrm_transfer.py; the
Send envelope stays well under WinRM's default MaxEnvelopeSizekb of 500; a node that refuses
it, as WinRM 2.0's default of 150 does, gets half-size chunks until it accepts), and finally the
SHA-256 of the whole file, which the node checks before it sets the mtime and renames the
part into place. A download is one ``xfer-get`` streaming the file's raw bytes on stdout from
an offset (after a local part's prefix, checked by a hash on the node), with the node's
SHA-256 of the whole file on stderr at the end. Progress is reported per chunk; a cancel is
honoured between chunks and keeps the part files for a retry. A connection that fails midway
is NodeUnreachable; the retry resumes from the verified part.

Paths are the engine's: POSIX-style strings (``C:/data/x`` or ``data/x``; backslashes work
too), relative ones under ``%USERPROFILE%``; the entries returned use ``/``.
"""

from __future__ import annotations

import base64
import hashlib
import stat as stat_mod
import threading
import time
from pathlib import Path

from winrm.exceptions import WinRMTransportError

from ...core.errors import LabDeckError, NodeUnreachable
from ...core.transfers import FileOutcome, FileResult, RemoteEntry, remote_join
from ..transfer_base import (ByteProgress, LocalPart, TransferCancelled, TransferError, finish_download, resume_download,
                            sha256_prefix)
from .clixml import decode_stderr
from .commands import powershell_command
from .executor import WinrmExecutor
from .session import SIGNAL_TERMINATE, WINRM_FAILURES, translate
from .transfer_scripts import (get_script, hash_script, list_script, mkdir_script, put_script, remove_script,
                                     stat_script, touch_script)

UPLOAD_CHUNK = 192 * 1024   # raw bytes per Send: 256 KiB of base64, about 350 KB of envelope
MIN_CHUNK = 16 * 1024      # below this a refused Send is a node setting to fix, not a size to try
DOWNLOAD_BLOCK = 256 * 1024  # bytes per read and write of the node's stream
RECEIVE_WAIT_S = 5.0        # longest single Receive: bounds how late a cancel is noticed
HELPER_TIMEOUT_S = 600.0    # hashing a file of many GB on a slow disk before the first answer
FILE_MODE = stat_mod.S_IFREG | 0o644
DIR_MODE = stat_mod.S_IFDIR | 0o755
LINK_MODE = stat_mod.S_IFLNK | 0o777
_ROOTS = ("", ".", "/", "\\", "~", "~/")


class EnvelopeTooLarge(Exception):
    """The node refused a message over its MaxEnvelopeSizekb (HTTP 413)."""


class HelperCall:
    """One helper command on a pooled shell, driven step by step: stdin sent as it is produced,
    stdout read as it comes. Use as a context manager; leaving early ends the command."""

    def __init__(self, executor: WinrmExecutor, script: str, doing: str):
        self.executor = executor
        self.doing = doing
        command, args = powershell_command(script)
        self.shell, self.command_id = executor.pool.start(command, args)
        self.out = bytearray()
        self.err = bytearray()
        self.exit_code: int | None = None
        self.done = False
        self._released = False

    def __enter__(self) -> HelperCall:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _lost(self, exc: BaseException) -> LabDeckError:
        self._release(False)
        return translate(exc, self.executor.target, self.doing)

    def send(self, data: bytes, end: bool = False) -> None:
        try:
            self.shell.send(self.command_id, data, end)
        except WinRMTransportError as exc:
            if exc.code == 413:  # refused whole before the command saw any of it: the command goes on
                raise EnvelopeTooLarge(len(data)) from exc
            raise self._lost(exc) from exc
        except WINRM_FAILURES as exc:
            raise self._lost(exc) from exc

    def receive(self, timeout: float = HELPER_TIMEOUT_S) -> bytes:
        """The next stdout (stderr is kept in ``err``); b"" once the command has ended."""
        quiet_until = time.monotonic() + timeout
        while not self.done:
            try:
                got = self.shell.receive(self.command_id, RECEIVE_WAIT_S)
            except WINRM_FAILURES as exc:
                raise self._lost(exc) from exc
            if got is None:
                if time.monotonic() > quiet_until:
                    self.close()
                    raise NodeUnreachable(f"node '{self.executor.node}': no answer for {timeout:.0f} s while "
                                          f"{self.doing}")
                continue
            out, err, code, done = got
            self.err += err
            if done:
                self.done, self.exit_code = True, code
            if out or done:
                return out
        return b""

    def read_line(self) -> str:
        while b"\n" not in self.out and not self.done:
            self.out += self.receive()
        line, _, rest = bytes(self.out).partition(b"\n")
        self.out[:] = rest
        return line.decode("utf-8", "replace").strip()

    def wait(self) -> str:
        """Everything the command prints until it ends."""
        while not self.done:
            self.out += self.receive()
        return self.out.decode("utf-8", "replace")

    def error_line(self) -> str:
        lines = [line.strip() for line in decode_stderr(bytes(self.err)).splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith("#")]
        return lines[0] if lines else f"exit code {self.exit_code}"

    def _release(self, healthy: bool) -> None:
        if not self._released:
            self._released = True
            self.executor.pool.release(self.shell, healthy)

    def close(self) -> None:
        if self._released:
            return
        if self.done:
            self._released = True
            self.executor.pool.finish(self.shell, self.command_id)
            return
        try:
            self.shell.signal(self.command_id, SIGNAL_TERMINATE)
        except WINRM_FAILURES:
            self._release(False)
            return
        self._release(True)


def _posix(path: str) -> str:
    return path.replace("\\", "/")


def _key_values(text: str) -> dict[str, str]:
    """``key=value`` lines as strings (a digest of digits only must keep its leading zeros)."""
    pairs = (line.strip().partition("=") for line in text.splitlines())
    return {key: value for key, sep, value in pairs if sep}


class WinrmTransfer:
    """TransferBackend for WinRM nodes over the node's pooled WinrmExecutor (thread-safe: each
    call takes its own shell from the pool)."""

    def __init__(self, executor: WinrmExecutor):
        self.executor = executor
        self.node = executor.node
        self.chunk = UPLOAD_CHUNK

    def _run(self, script: str, doing: str) -> tuple[str, HelperCall]:
        with HelperCall(self.executor, script, doing) as call:
            out = call.wait()
        if call.exit_code != 0:
            raise TransferError(f"node '{self.node}': {doing} failed ({call.error_line()})")
        return out, call

    # ---- metadata ----------------------------------------------------------------------

    def stat(self, path: str) -> RemoteEntry | None:
        info = _key_values(self._run(stat_script(path), f"reading {path}")[0])
        if info.get("kind") not in ("f", "d"):
            return None
        is_dir = info["kind"] == "d"
        return RemoteEntry(_posix(path), 0 if is_dir else int(info.get("size", 0)), int(info.get("mtime", 0)),
                           DIR_MODE if is_dir else FILE_MODE, is_dir=is_dir)

    def listdir(self, path: str) -> list[RemoteEntry]:
        out, _ = self._run(list_script(path), f"listing {path}")
        status, *lines = out.splitlines() or ["missing"]
        if status.strip() == "missing":
            raise TransferError(f"node '{self.node}': folder {path} does not exist")
        if status.strip() == "notdir":
            raise TransferError(f"node '{self.node}': {path} is a file, not a folder")
        base = _posix(path)
        entries = []
        for line in lines:
            fields = line.rstrip("\r").split("\t", 3)
            if len(fields) != 4:
                continue
            kind, size, mtime, name = fields
            child = name if base in _ROOTS else remote_join(base, name)
            mode = {"d": DIR_MODE, "l": LINK_MODE}.get(kind, FILE_MODE)
            entries.append(RemoteEntry(child, int(size), int(mtime), mode, is_dir=kind == "d", is_link=kind == "l"))
        return sorted(entries, key=lambda e: e.path)

    def makedirs(self, path: str) -> None:
        if path.strip().rstrip("/\\") not in _ROOTS:
            self._run(mkdir_script(path), f"creating folder {path}")

    def remove(self, path: str) -> None:
        if path.strip().rstrip("/\\") in _ROOTS or (len(path.rstrip("/\\")) == 2 and path[1] == ":"):
            raise TransferError(f"node '{self.node}': refusing to delete '{path or '.'}'")
        self._run(remove_script(path), f"deleting {path}")

    def sha256(self, path: str, length: int | None = None) -> str:
        info = _key_values(self._run(hash_script(path, length), f"hashing {path}")[0])
        digest = str(info.get("sha256", ""))
        if len(digest) != 64:
            raise TransferError(f"node '{self.node}': cannot hash {path}: it does not exist")
        return digest

    def set_mtime(self, path: str, mtime: int) -> None:
        self._run(touch_script(path, mtime), f"setting the time of {path}")

    # ---- upload ------------------------------------------------------------------------

    def upload_file(self, local: Path, remote: str, progress: ByteProgress, cancel: threading.Event) -> FileResult:
        info = local.stat()
        size, mtime = info.st_size, int(info.st_mtime)
        doing = f"uploading {remote}"
        with open(local, "rb") as src, HelperCall(self.executor, put_script(remote, size, mtime), doing) as call:
            first = call.read_line()
            if not first.startswith("have="):  # the helper failed before it could start
                raise TransferError(f"node '{self.node}': {doing} failed ({call.error_line()})")
            offset, hasher = self._agree_offset(first, local, size)
            call.send(f"offset={offset}\r\n".encode())
            if offset:
                src.seek(offset)
                progress(offset)
            while block := src.read(self.chunk):
                if cancel.is_set():
                    call.send(b"", end=True)  # the node keeps the part: a retry resumes from it
                    call.wait()
                    raise TransferCancelled(f"node '{self.node}': upload of {local.name} cancelled")
                hasher.update(block)
                self._send_data(call, block)
                progress(len(block))
            digest = hasher.hexdigest()
            call.send(f"end={digest}\r\n".encode(), end=True)
            answer = _key_values(call.wait())
        if answer.get("done") == digest:
            return FileResult(str(local), _posix(remote), size, FileOutcome.RESUMED if offset else FileOutcome.COPIED,
                              digest)
        if "mismatch" in answer:
            raise TransferError(f"node '{self.node}': {remote} arrived damaged, or {local.name} changed while being "
                                f"copied (SHA-256 differs); retry the transfer")
        raise TransferError(f"node '{self.node}': writing {remote} failed ({call.error_line()}); is the node's disk "
                            f"full? The part written so far is kept for a retry")

    def _send_data(self, call: HelperCall, block: bytes) -> None:
        """One chunk as base64 lines; halved (for this and later chunks) while the node refuses
        the message as too large (WinRM 2.0's default MaxEnvelopeSizekb is 150, not 500)."""
        done = 0
        while done < len(block):
            piece = block[done:done + self.chunk]
            try:
                call.send(base64.b64encode(piece) + b"\r\n")
            except EnvelopeTooLarge as exc:
                if self.chunk <= MIN_CHUNK:
                    raise TransferError(
                        f"node '{self.node}': WinRM refused a {len(piece) * 4 // 3 // 1024} KiB message as too large; "
                        f"raise MaxEnvelopeSizekb on the node (winrm set winrm/config @{{MaxEnvelopeSizekb=\"500\"}})"
                    ) from exc
                self.chunk //= 2
                continue
            done += len(piece)

    def _agree_offset(self, line: str, local: Path, size: int):
        """Where the upload continues, and the local hasher fed up to there: after the node's
        part file if its SHA-256 matches the same prefix of the local file, else at 0."""
        have, _, digest = line.removeprefix("have=").partition(" ")
        count = int(have or 0)
        if 0 < count <= size:
            prefix = sha256_prefix(local, count)
            if prefix.hexdigest() == digest:
                return count, prefix
        return 0, hashlib.sha256()

    # ---- download ----------------------------------------------------------------------

    def download_file(self, entry: RemoteEntry, local: Path, progress: ByteProgress,
                      cancel: threading.Event) -> FileResult:
        part = LocalPart(local)
        offset, hasher = resume_download(part, entry.size, lambda length: self.sha256(entry.path, length))
        part.open(offset)
        if offset:
            progress(offset)
        received = 0
        try:
            with HelperCall(self.executor, get_script(entry.path, offset, DOWNLOAD_BLOCK),
                            f"downloading {entry.path}") as call:
                while not call.done:
                    if cancel.is_set():
                        raise TransferCancelled(f"node '{self.node}': download of {entry.path} cancelled")
                    data = call.receive()
                    if data:
                        hasher.update(data)
                        part.write(data)
                        received += len(data)
                        progress(len(data))
            part.close()
        except BaseException:
            part.close_quietly()
            raise
        trailer = [line.split() for line in call.err.decode("utf-8", "replace").splitlines() if line.startswith("#")]
        if ["#missing"] in trailer:
            raise TransferError(f"node '{self.node}': {entry.path} does not exist (any more)")
        end = next((t for t in trailer if t[0] == "#end" and len(t) == 3), None)
        if call.exit_code != 0 or end is None:
            raise TransferError(f"node '{self.node}': reading {entry.path} failed ({call.error_line()})")
        if int(end[1]) != offset + received:  # the node sent a different length than arrived
            raise TransferError(f"node '{self.node}': {entry.path} changed size while being copied "
                                f"({entry.size} -> {end[1]} bytes); retry when it is complete")
        return finish_download(self.node, entry, part, offset, offset + received, hasher.hexdigest(), end[2])

    def close(self) -> None:
        """Nothing of its own to close: the shells belong to the node's executor."""
