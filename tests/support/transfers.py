"""File transfer helpers: hashes on both ends, a transfer run to its end, a server cut midway."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from pathlib import Path

from labdeck.core.transfers import TransferProgress
from labdeck.engine.transfers import TransferRequest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def remote_sha256(sshd, path: str) -> str:
    """Hashed on the node by OpenSSH's own client, not by LabDeck."""
    out = subprocess.run([*sshd.ssh_args(), f"sha256sum {path}"], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def run_transfer(engine, request: TransferRequest, timeout: float = 300):
    transfer = engine.transfers.start(request)
    assert engine.transfers.wait(transfer.id, timeout), "transfer did not finish in time"
    return transfer


def stop_server_at(engine, server, fraction: float) -> list[int]:
    """Stop the node's server (sshd, smbd, the WS-Man server: anything with ``stop()``) from
    inside the transfer's own progress callback once ``fraction`` of the bytes moved: the cut
    lands midway however fast the copy runs."""
    stopped_at: list[int] = []

    def on_event(event) -> None:
        if isinstance(event, TransferProgress) and not stopped_at and event.bytes_total \
                and event.bytes_done >= fraction * event.bytes_total:
            stopped_at.append(event.bytes_done)
            server.stop()

    engine.bus.subscribe(on_event)
    return stopped_at


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
