"""The data paths of SSH transfers: a file streamed to or from a node over one exec channel,
hashed on both sides while it moves.

Measured in bench/bench_transfer.py: SFTP requests cost an acknowledgement each and a second
process on the node (sftp-server); a plain exec channel is the cheapest way to move bytes
through sshd. On the node a small Python program (``MOVER``) does the moving: it reads or
writes the file once, hashes it with SHA-256 on the way, and grows its pipe to sshd to 1 MiB so
data moves in big pieces; verifying then costs no second pass over the file.

A node without ``python3`` gets ``cat`` (``tail -c +N`` to resume) and a hash of the file
afterwards (``openssl dgst`` / ``sha256sum``): slower, not different. Files under 16 MiB take
that path everywhere: python3 starts about 12 ms slower than openssl, more than the hash pass
it saves on a small file. On this side the SHA-256 is computed on a thread of its own
(``LocalHasher``) from the blocks that move.
"""

from __future__ import annotations

import hashlib
import queue
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import paramiko

from ..transfer_base import BLOCK, ByteProgress, TransferCancelled, TransferError

DIGEST_MARK = "labdeck-sha256 "
PYTHON_MIN_BYTES = 16 << 20

# argv: up|down, path, offset. The file's first ``offset`` bytes are hashed where they are (an
# upload's part file is then cut there), the rest moves stdin -> file (up) or file -> stdout
# (down), hashed on the way; the SHA-256 of the whole file ends stdout (up) or stderr (down,
# where stdout carries only the file's bytes). Linux lets any user grow a pipe to 1 MiB.
MOVER = r"""
import fcntl, hashlib, os, sys
up, path, offset = sys.argv[1] == "up", sys.argv[2], int(sys.argv[3])
try:
    fcntl.fcntl(0 if up else 1, 1031, 1 << 20)  # F_SETPIPE_SZ
except (OSError, AttributeError):
    pass
digest = hashlib.sha256()
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if up else os.open(path, os.O_RDONLY)
buf = bytearray(1 << 20)
view = memoryview(buf)
left = offset
while left > 0:
    n = os.readv(fd, [view[:min(left, len(buf))]])
    if not n:
        break
    digest.update(view[:n])
    left -= n
if up:
    os.ftruncate(fd, offset - left)
    os.lseek(fd, offset - left, 0)
source, target = (0, fd) if up else (fd, 1)
while True:
    n = os.readv(source, [buf])
    if not n:
        break
    digest.update(view[:n])
    chunk = view[:n]
    while chunk:
        chunk = chunk[os.write(target, chunk):]
os.close(fd)
(sys.stdout if up else sys.stderr).write("labdeck-sha256 " + digest.hexdigest() + "\n")
"""


def _python_mover(direction: str, path_word: str, offset: int, fallback: str) -> str:
    return (f"if command -v python3 >/dev/null 2>&1; then "
            f"exec python3 -I -S -c {shlex.quote(MOVER)} {direction} {path_word} {int(offset)}; else {fallback}; fi")


def reader_command(path_word: str, offset: int, hash_script: str, python: bool = True) -> str:
    """The node's command for a download: the Python reader, or ``cat``/``tail`` and a hash of
    the whole file afterwards, printed on stderr after DIGEST_MARK either way."""
    send = f"tail -c +{int(offset) + 1} {path_word}" if offset else f"cat {path_word}"
    fallback = f"{send} && {{ printf '{DIGEST_MARK}' && {hash_script}; }} >&2"
    return _python_mover("down", path_word, offset, fallback) if python else fallback


def parse_digest(text: str) -> str:
    """The hex digest after DIGEST_MARK in a node's output, or '' if there is none."""
    if DIGEST_MARK not in text:
        return ""
    words = text.split(DIGEST_MARK, 1)[1].split()
    return words[0].lower() if words else ""  # the mark with nothing after it: the hash never came


def writer_command(part_word: str, offset: int, hash_script: str, python: bool = True) -> str:
    """The node's command: the Python writer, or ``cat`` and a hash afterwards without python3.
    ``part_word`` is the part path already quoted as one shell word; with an ``offset`` the
    caller has already cut the part file to that length."""
    fallback = f"cat {'>>' if offset else '>'} {part_word} && printf '{DIGEST_MARK}' && {{ {hash_script}; }}"
    return _python_mover("up", part_word, offset, fallback) if python else fallback


def python_pays_off(remaining: int) -> bool:
    """Whether hashing on the way is worth starting python3 on the node: it saves the hash pass
    after the last byte (about 0.7 ms a MiB) but starts about 12 ms slower than openssl."""
    return remaining >= PYTHON_MIN_BYTES


class LocalHasher:
    """SHA-256 of the blocks handed to ``feed``, computed on its own thread (hashlib releases
    the interpreter lock), so the sending thread only queues them."""

    def __init__(self, seed: hashlib._Hash, name: str):
        self._hasher = seed
        self._blocks: queue.Queue = queue.Queue(maxsize=16)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self._hasher.update(block)

    def feed(self, block: bytes) -> None:
        self._blocks.put(block)

    def hexdigest(self) -> str:
        self.stop()
        self._thread.join()
        return self._hasher.hexdigest()

    def stop(self) -> None:
        """Let the thread end (also when the upload failed half way)."""
        if not self._stopped:
            self._stopped = True
            self._blocks.put(None)


def open_local(local: Path, offset: int) -> BinaryIO:
    """The local file, positioned at ``offset``; opened before the node's writer starts, so a
    file this side cannot read never leaves a writer waiting for input."""
    try:
        src = open(local, "rb")  # closed by send_file, or by the caller if it never runs
        src.seek(offset)
        return src
    except OSError as exc:
        raise TransferError(f"cannot read {local} ({exc.strerror or exc})") from exc


def send_file(chan: paramiko.Channel, src: BinaryIO, local: Path, hasher: LocalHasher, progress: ByteProgress,
              cancel: threading.Event, cancelled: Callable[[], TransferCancelled]) -> None:
    """The rest of ``src`` (``local``, opened by open_local) into the channel, then end of input."""
    with src:
        while True:
            if cancel.is_set():
                raise cancelled()
            try:
                block = src.read(BLOCK)
            except OSError as exc:
                raise TransferError(f"cannot read {local} ({exc.strerror or exc})") from exc
            if not block:
                break
            hasher.feed(block)
            rest = memoryview(block)
            while rest:  # memoryview: paramiko's sendall would copy the tail of the block per packet
                rest = rest[chan.send(rest):]
            progress(len(block))
    chan.shutdown_write()


def read_digest(chan: paramiko.Channel, node: str, remote: str) -> str:
    """The node writer's SHA-256 line; a clear error with its stderr if it failed."""
    out, err = bytearray(), bytearray()
    while data := chan.recv(65536):
        out += data
    code = chan.recv_exit_status()
    while chan.recv_stderr_ready():
        err += chan.recv_stderr(65536)
    digest = parse_digest(out.decode(errors="replace"))
    if code == -1 and len(digest) != 64:
        raise EOFError("the node's writer ended without a word")  # the channel or connection died
    if code not in (0, -1) or len(digest) != 64:
        reason = err.decode(errors="replace").strip().splitlines()
        raise TransferError(f"node '{node}': writing {remote} failed ({reason[-1] if reason else f'exit {code}'}); "
                            f"is the node's disk full? The part written so far is kept for a retry")
    return digest
