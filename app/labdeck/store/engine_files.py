"""How LabDeck processes find the one engine of a catalog: two files in the data folder.

``engine.lock`` is held (an OS file lock, released by the OS when the process ends, however it
ends) by the one process whose engine owns the catalog; ``engine.json`` says how to reach it
(the address of its local socket or named pipe, the key that authenticates a client, its pid
and host). A process that finds the lock free and no engine to connect to starts one."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = "engine.lock"
INFO_NAME = "engine.json"


@dataclass
class EngineAddress:
    address: str          # multiprocessing.connection address (a Unix socket path or a named pipe)
    authkey: str          # hex; a client proves it knows it (HMAC challenge), it never crosses the wire
    pid: int
    host: str
    protocol: int


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_NAME


def info_path(data_dir: Path) -> Path:
    return data_dir / INFO_NAME


def try_lock(data_dir: Path) -> FileLock | None:
    """The catalog's engine lock, held until released or this process ends; None if another holds it."""
    lock = FileLock(str(lock_path(data_dir)), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def write_address(data_dir: Path, address: str, authkey: bytes, protocol: int) -> None:
    """Written whole (a temporary file renamed over the old one), readable by this user only."""
    info = EngineAddress(address, authkey.hex(), os.getpid(), socket.gethostname(), protocol)
    path = info_path(data_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(info), f)
    os.replace(tmp, path)


def read_address(data_dir: Path) -> EngineAddress | None:
    try:
        data = json.loads(info_path(data_dir).read_text(encoding="utf-8"))
        return EngineAddress(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_address(data_dir: Path) -> None:
    """Only the engine that wrote it removes it (a newer engine may have replaced it)."""
    info = read_address(data_dir)
    if info is not None and info.pid == os.getpid():
        info_path(data_dir).unlink(missing_ok=True)
