"""File transfer throughput of LabDeck against OpenSSH ``scp``, measured in the same run.

    /tmp/venv/bin/python -m bench.bench_transfer [--size-mib 256] [--repeat 3] [--no-tuning]

Starts a throw-away sshd on loopback (tests/support/sshd.py), writes SIZE MiB of random data
(incompressible: no compression could win anything) and measures, each REPEAT times (median):

1. upload   -- LabDeck's SftpTransfer.upload_file (part file, SHA-256 computed on both sides
               and compared, mode/mtime set, atomic rename) vs ``scp`` of the same file to the
               same sshd with the same key. Target: LabDeck >= 1.2x scp's throughput.
2. download -- SftpTransfer.download_file (the same guarantees) vs ``scp`` back.
               Target: LabDeck >= 1.0x scp.

The reference for the targets is ``scp`` as a user runs it: OpenSSH's default cipher
(chacha20-poly1305), since choosing a fast cipher is one of the ways LabDeck is meant to beat
it. Each direction also prints a row against ``scp -c aes128-gcm@openssh.com`` (the cipher
LabDeck negotiates): the same cipher on both sides, so it shows what the rest of the pipeline
and the verification cost.

Unless ``--no-tuning``, it also prints what each tuning step buys (diagnostic rows, no target):
stock paramiko ``put``/``get``; + AES-GCM; + 255 KiB pipelined SFTP writes; LabDeck's upload
stream with no hashing at all (plain ``cat`` on the node); downloads over
SFTP with 255 KiB reads vs an exec-channel stream with 1 MiB, 2 MiB and 16 MiB windows; and
LabDeck without its SHA-256 verification, to show what verifying costs.

Always exits 0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import paramiko  # noqa: E402

import tests.support.sshd as sshd_support  # noqa: E402
from bench.report import NOTES, ROWS, Row, print_table  # noqa: E402
from labdeck.core.transfers import RemoteEntry  # noqa: E402
from labdeck.executors.ssh import sftp_transfer  # noqa: E402
from labdeck.executors.ssh.sftp_transfer import SftpTransfer  # noqa: E402
from labdeck.executors.ssh.connection import SshConnection, SshTarget, _open_socket, _rekey_like_openssh  # noqa: E402

GCM = "aes128-gcm@openssh.com"


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def timed(fn, repeat: int, cleanup) -> float:
    """Median seconds of ``repeat`` runs; ``cleanup`` runs before each (not timed)."""
    times = []
    for _ in range(repeat):
        cleanup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Bench:
    def __init__(self, node: sshd_support.SshdNode, work: Path, size: int, repeat: int):
        self.node, self.work, self.size, self.repeat = node, work, size, repeat
        self.src = work / "random.bin"
        self.remote_up = work / "remote-up.bin"
        self.local_down = work / "local-down.bin"
        with open(self.src, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
        self.entry = RemoteEntry(str(self.src), size, int(self.src.stat().st_mtime), 0o100644)

    def clean(self) -> None:
        for p in (self.remote_up, self.local_down):
            for q in (p, *p.parent.glob(p.name + "*.labdeck-part")):  # SSH uploads: NAME.<node>.labdeck-part
                q.unlink(missing_ok=True)

    # ---- scp -----------------------------------------------------------------------------

    def scp(self, upload: bool, cipher: str | None) -> float:
        n = self.node
        argv = ["scp", "-q", "-P", str(n.port), "-i", str(n.key_file), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "Compression=no"]
        if cipher:
            argv += ["-c", cipher]
        remote = f"{n.user}@{n.host}:"
        argv += [str(self.src), remote + str(self.remote_up)] if upload else [remote + str(self.src),
                                                                              str(self.local_down)]
        return timed(lambda: subprocess.run(argv, check=True), self.repeat, self.clean)

    def best_scp(self, upload: bool) -> tuple[float, str]:
        default = self.scp(upload, None)
        gcm = self.scp(upload, GCM)
        return (default, "default cipher") if default < gcm else (gcm, "aes128-gcm")

    # ---- LabDeck -------------------------------------------------------------------------

    def connection(self) -> SshConnection:
        n = self.node
        return SshConnection(SshTarget(n.name, n.host, n.port, n.user, str(n.key_file)), lambda *a: None)

    def labdeck(self, upload: bool, verify: bool = True) -> float:
        conn = self.connection()
        backend = SftpTransfer(conn)
        cancel = threading.Event()
        saved = (SftpTransfer.sha256, sftp_transfer.writer_command, sftp_transfer.reader_command,
                 sftp_transfer.LocalHasher, sftp_transfer.hashlib)
        if not verify:  # diagnostic only: every hash (local, on the node, inline) replaced by a constant
            SftpTransfer.sha256 = lambda self, path, length=None: _NoHash().hexdigest()
            sftp_transfer.writer_command = _cat_writer
            sftp_transfer.reader_command = _cat_reader
            sftp_transfer.LocalHasher = _NoLocalHasher
            sftp_transfer.hashlib = _NoHashlib()
        try:
            if upload:
                run = lambda: backend.upload_file(self.src, str(self.remote_up), lambda n: None, cancel)  # noqa: E731
            else:
                run = lambda: backend.download_file(self.entry, self.local_down, lambda n: None, cancel)  # noqa: E731
            return timed(run, self.repeat, self.clean)
        finally:
            (SftpTransfer.sha256, sftp_transfer.writer_command, sftp_transfer.reader_command,
             sftp_transfer.LocalHasher, sftp_transfer.hashlib) = saved
            backend.close()
            conn.close()

    # ---- tuning steps (raw paramiko, to show what each knob buys) --------------------------

    def raw_transport(self, cipher: str | None) -> paramiko.Transport:
        n = self.node
        target = SshTarget(n.name, n.host, n.port, n.user, str(n.key_file))
        transport = paramiko.Transport(_open_socket(target, 10))
        if cipher:
            transport.get_security_options().ciphers = (cipher,)
        transport.start_client(timeout=10)
        transport.auth_publickey(n.user, paramiko.PKey.from_path(n.key_file))
        _rekey_like_openssh(transport)  # else a 30 s stall at each 512 MiB (see ssh_connection.py)
        return transport

    def raw_put(self, cipher: str | None, request: int | None) -> float:
        transport = self.raw_transport(cipher)
        sftp = paramiko.SFTPClient.from_transport(transport)

        def run() -> None:
            if request is None:
                sftp.put(str(self.src), str(self.remote_up))
                return
            with open(self.src, "rb") as src, sftp.open(str(self.remote_up), "wb") as dst:
                dst.MAX_REQUEST_SIZE = request
                dst.set_pipelined(True)
                while block := src.read(1 << 20):
                    dst.write(block)
        try:
            return timed(run, self.repeat, self.clean)
        finally:
            transport.close()

    def raw_get(self, cipher: str | None, request: int | None) -> float:
        transport = self.raw_transport(cipher)
        sftp = paramiko.SFTPClient.from_transport(transport)

        def run() -> None:
            if request is None:
                sftp.get(str(self.src), str(self.local_down))
                return
            with sftp.open(str(self.src), "rb") as src, open(self.local_down, "wb") as dst:
                src.MAX_REQUEST_SIZE = request
                src.prefetch(self.size, 32)
                while block := src.read(1 << 20):
                    dst.write(block)
        try:
            return timed(run, self.repeat, self.clean)
        finally:
            transport.close()

    def stream_get(self, window: int) -> float:
        saved = sftp_transfer.STREAM_WINDOW
        sftp_transfer.STREAM_WINDOW = window
        try:
            return self.labdeck(upload=False)
        finally:
            sftp_transfer.STREAM_WINDOW = saved


class _NoHash:
    def update(self, _data: bytes) -> None:
        pass

    def hexdigest(self) -> str:
        return "0" * 64


class _NoHashlib:
    sha256 = _NoHash


class _NoLocalHasher(_NoHash):
    def __init__(self, _seed, name: str):
        pass

    def feed(self, _block: bytes) -> None:
        pass

    def stop(self) -> None:
        pass


def _cat_writer(part_word: str, offset: int, _hash_script: str, python: bool = True) -> str:
    """The upload stream's node side without hashing: plain cat, and a constant digest."""
    return f"cat {'>>' if offset else '>'} {part_word} && echo 'labdeck-sha256 {_NoHash().hexdigest()}'"


def _cat_reader(path_word: str, offset: int, _hash_script: str, python: bool = True) -> str:
    """The download stream's node side without hashing: plain cat, and a constant digest."""
    return f"tail -c +{offset + 1} {path_word} && echo 'labdeck-sha256 {_NoHash().hexdigest()}' >&2"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-tuning", action="store_true", help="only the two target rows")
    args = parser.parse_args()
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(prefix="labdeck-bench-transfer-") as tmp:
        work = Path(tmp)
        cluster = sshd_support.SshdCluster(work / "sshd")
        (node,) = cluster.start_nodes(1)
        try:
            bench = Bench(node, work, size, args.repeat)
            run_all(bench, size, args.no_tuning)
        finally:
            cluster.stop_all()
    print(f"{datetime.date.today()} {platform.node()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"paramiko {paramiko.__version__}, {args.size_mib} MiB random data, median of {args.repeat}")
    print_table("scp")
    return 0


def run_all(bench: Bench, size: int, no_tuning: bool) -> None:
    for upload, target in ((True, 1.2), (False, 1.0)):
        word = "upload" if upload else "download"
        default = bench.scp(upload, None)
        ours = bench.labdeck(upload)
        same_cipher = bench.scp(upload, GCM)
        ratio = default / ours
        ROWS.append(Row(f"{word} {size >> 20} MiB (verified)", f"{mbps(size, ours):.0f} MB/s",
                        f"{mbps(size, default):.0f} MB/s", f"{ratio:.2f}x", f">= {target}x", ratio >= target))
        ROWS.append(Row(f"{word}: against scp -c aes128-gcm", f"{mbps(size, ours):.0f} MB/s",
                        f"{mbps(size, same_cipher):.0f} MB/s", f"{same_cipher / ours:.2f}x", "-", None))
    NOTES.append("the target rows compare with scp as a user runs it (OpenSSH's default cipher, "
                 "chacha20-poly1305); the rows below them force scp onto LabDeck's own cipher (AES-GCM)")
    if no_tuning:
        return
    scp_up, _ = bench.best_scp(True)
    scp_down, _ = bench.best_scp(False)

    def diag(name: str, seconds: float, ref: float) -> None:
        ROWS.append(Row(name, f"{mbps(size, seconds):.0f} MB/s", f"{mbps(size, ref):.0f} MB/s",
                        f"{ref / seconds:.2f}x", "-", None))

    diag("up: stock paramiko put (aes128-ctr)", bench.raw_put(None, None), scp_up)
    diag("up: + aes128-gcm", bench.raw_put(GCM, None), scp_up)
    diag("up: + 255 KiB pipelined SFTP writes", bench.raw_put(GCM, 255 * 1024), scp_up)
    diag("up: exec-channel stream into cat, no hashing", bench.labdeck(True, verify=False), scp_up)
    diag("down: stock paramiko get (aes128-ctr)", bench.raw_get(None, None), scp_down)
    diag("down: + aes128-gcm", bench.raw_get(GCM, None), scp_down)
    diag("down: + 255 KiB reads, 32 in flight", bench.raw_get(GCM, 255 * 1024), scp_down)
    for window in (1 << 20, 2 << 20, 16 << 20):
        diag(f"down: exec stream, {window >> 20} MiB window", bench.stream_get(window), scp_down)
    diag("down: LabDeck without SHA-256 check", bench.labdeck(False, verify=False), scp_down)


if __name__ == "__main__":
    sys.exit(main())
