"""WinRM file transfer: LabDeck's WinrmTransfer against the recipe people use with pywinrm, both
against the WS-Management test server (tests/support/wsman_server.py), in the same run.

    /tmp/venv/bin/python -m bench.bench_winrm_transfer [--size-mib 32] [--reference-mib 1] [--repeat 3]
                                                       [--chunks-kib 48,96,144,192,240,288]

1. upload   -- ``WinrmTransfer.upload_file`` of SIZE MiB (part file, resume check, SHA-256 checked
               on the node, mtime kept, rename) vs the recipe: the file cut into base64 chunks,
               each appended to the file on the node by its own ``Session.run_ps``, the chunk as
               large as a run_ps command line allows (cmd's 8,191 characters, pywinrm #184).
               Target: LabDeck >= 10x the recipe's throughput.
2. download -- ``WinrmTransfer.download_file`` (verified, through a part file) vs one ``run_ps``
               printing the whole file as base64 (no verification). Diagnostic: no target.
3. chunk    -- (diagnostic) LabDeck's upload throughput for each raw chunk size per WS-Man Send,
               with the size of one Send envelope as pywinrm builds it; WinRM refuses envelopes
               over MaxEnvelopeSizekb (500 KB by default).

The recipe pays a shell, a process and four round trips per 2 KiB chunk, so its throughput does
not depend on the file's size: it is measured on REFERENCE MiB (a 32 MiB run would take many
minutes) and compared as MB/s. The server runs in a process of its own and emulates every
PowerShell script with a small Python process (a powershell.exe start on Windows costs more,
so the recipe's per-chunk cost is understated here). Always exits 0: this is a report.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import winrm  # noqa: E402
from winrm.protocol import Protocol  # noqa: E402

from bench.report import NOTES, ROWS, Row, print_table  # noqa: E402
from labdeck.core.transfers import RemoteEntry  # noqa: E402
from labdeck.executors.winrm import transfer as winrm_transfer  # noqa: E402
from labdeck.executors.winrm.executor import WinrmExecutor  # noqa: E402
from labdeck.executors.winrm.session import WinrmTarget  # noqa: E402
from labdeck.executors.winrm.transfer import WinrmTransfer  # noqa: E402
from tests.support.wsman_server import WsmanServer  # noqa: E402 - for its default user and password

CMD_LINE_LIMIT = 8191
MAX_ENVELOPE = 500 * 1024

APPEND_RECIPE = """# labdeck-helper xfer-reference-append
$path = '{path}'
$b64 = '{chunk}'
$bytes = [Convert]::FromBase64String($b64)
$f = [System.IO.File]::Open($path, 'Append')
$f.Write($bytes, 0, $bytes.Length); $f.Close()
"""
READ_RECIPE = """# labdeck-helper xfer-reference-read
$path = '{path}'
[Convert]::ToBase64String([System.IO.File]::ReadAllBytes($path))
"""


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def send_envelope_bytes(raw_chunk: int) -> int:
    """The size of one Send carrying ``raw_chunk`` bytes as a base64 line, built by pywinrm."""
    protocol = Protocol("http://127.0.0.1:5985/wsman", transport="basic", username="u", password="p")
    sent: list[str] = []
    protocol.send_message = sent.append
    line = base64.b64encode(os.urandom(raw_chunk)) + b"\r\n"
    protocol.send_command_input(str(uuid.uuid4()).upper(), str(uuid.uuid4()).upper(), line)
    return len(sent[0].encode())


def recipe_chunk() -> int:
    """The largest raw chunk whose run_ps command line stays within cmd's limit."""
    raw = 3072
    while True:
        script = APPEND_RECIPE.format(path="C:\\bench\\reference.bin", chunk="A" * (4 * ((raw + 2) // 3)))
        line = "powershell -encodedcommand " + base64.b64encode(script.encode("utf-16-le")).decode()
        if len(line) <= CMD_LINE_LIMIT:
            return raw
        raw -= 48


class Bench:
    def __init__(self, root: Path, port: int, size: int, repeat: int):
        self.root, self.size, self.repeat = root, size, repeat
        user, password = WsmanServer(root).username, WsmanServer(root).password
        self.executor = WinrmExecutor(WinrmTarget("bench", "127.0.0.1", port, user, password, auth="basic"))
        self.backend = WinrmTransfer(self.executor)
        self.session = winrm.Session(f"http://127.0.0.1:{port}/wsman", auth=(user, password), transport="basic")
        self.src = root / "local" / "random.bin"
        self.src.parent.mkdir(parents=True)
        with open(self.src, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
        self.node_dir = root / "profile" / "bench"     # "bench/..." on the node
        self.node_c = root / "C" / "bench"             # "C:\bench\..." on the node
        self.node_dir.mkdir(parents=True)
        self.node_c.mkdir(parents=True)
        (self.node_dir / "source.bin").write_bytes(self.src.read_bytes())
        (self.node_c / "source.bin").write_bytes(self.src.read_bytes())
        self.entry = RemoteEntry("bench/source.bin", size, int(self.src.stat().st_mtime), 0o100644)
        self.local_down = root / "local" / "down.bin"

    def clean(self) -> None:
        for p in (self.node_dir / "up.bin", self.node_dir / "up.bin.labdeck-part", self.node_c / "reference.bin",
                  self.local_down, self.local_down.with_name("down.bin.labdeck-part")):
            p.unlink(missing_ok=True)

    def timed(self, fn, repeat: int | None = None) -> float:
        times = []
        for _ in range(repeat or self.repeat):
            self.clean()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def labdeck_upload(self) -> float:
        cancel = threading.Event()
        return self.timed(lambda: self.backend.upload_file(self.src, "bench/up.bin", lambda n: None, cancel))

    def labdeck_download(self) -> float:
        cancel = threading.Event()
        return self.timed(lambda: self.backend.download_file(self.entry, self.local_down, lambda n: None, cancel))

    def recipe_upload(self, size: int, chunk: int) -> float:
        def run() -> None:
            with open(self.src, "rb") as f:
                left = size
                while left > 0:
                    block = f.read(min(chunk, left))
                    left -= len(block)
                    script = APPEND_RECIPE.format(path="C:\\bench\\reference.bin",
                                                  chunk=base64.b64encode(block).decode())
                    result = self.session.run_ps(script)
                    assert result.status_code == 0, result.std_err
        seconds = self.timed(run, repeat=1)  # hundreds of calls: steady on its own
        assert (self.node_c / "reference.bin").stat().st_size == size
        return seconds

    def recipe_download(self) -> float:
        def run() -> None:
            result = self.session.run_ps(READ_RECIPE.format(path="C:\\bench\\source.bin"))
            assert result.status_code == 0, result.std_err
            self.local_down.write_bytes(base64.b64decode(result.std_out))
        return self.timed(run)

    def close(self) -> None:
        self.executor.close()


def compare(bench: Bench, args) -> None:
    size, reference_size, chunk = bench.size, args.reference_mib << 20, recipe_chunk()
    up = bench.labdeck_upload()
    ref_up = bench.recipe_upload(reference_size, chunk)
    down = bench.labdeck_download()
    ref_down = bench.recipe_download()
    ratio_up = mbps(size, up) / mbps(reference_size, ref_up)
    ROWS.append(Row(f"upload {args.size_mib} MiB", f"{mbps(size, up):.1f} MB/s",
                    f"{mbps(reference_size, ref_up):.2f} MB/s", f"{ratio_up:.1f}x", ">= 10x", ratio_up >= 10))
    ratio_down = mbps(size, down) / mbps(size, ref_down)
    ROWS.append(Row(f"download {args.size_mib} MiB", f"{mbps(size, down):.1f} MB/s",
                    f"{mbps(size, ref_down):.1f} MB/s", f"{ratio_down:.2f}x", "-", None))
    NOTES.append(f"recipe upload: {chunk} raw bytes per run_ps (the largest under {CMD_LINE_LIMIT} characters), "
                 f"measured once on {args.reference_mib} MiB ({-(-reference_size // chunk)} run_ps calls); "
                 f"LabDeck upload {up:.2f} s for {args.size_mib} MiB, download {down:.2f} s (median of {args.repeat})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--reference-mib", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunks-kib", default="48,96,144,192,240,288")
    args = parser.parse_args()
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(prefix="bench-winrm-transfer-") as tmp:
        root = Path(tmp)
        server = subprocess.Popen([sys.executable, "-m", "tests.support.wsman_server", tmp], cwd=REPO_ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = int(server.stdout.readline())
        bench = Bench(root, port, size, args.repeat)
        try:
            if args.reference_mib > 0:
                compare(bench, args)
            for kib in [int(k) for k in args.chunks_kib.split(",") if k]:
                envelope = send_envelope_bytes(kib << 10)
                if envelope > MAX_ENVELOPE:  # the node would refuse it and LabDeck would halve it
                    ROWS.append(Row(f"chunk {kib} KiB (Send {envelope / 1000:.0f} KB)", "refused (HTTP 413)", "-",
                                    "-", "Send <= 500 KiB", False))
                    continue
                bench.backend.chunk = kib << 10
                seconds = bench.labdeck_upload()
                ROWS.append(Row(f"chunk {kib} KiB (Send {envelope / 1000:.0f} KB)", f"{mbps(size, seconds):.1f} MB/s",
                                "-", "-", "Send <= 500 KiB", True))
            bench.backend.chunk = winrm_transfer.UPLOAD_CHUNK
        finally:
            bench.close()
            server.stdin.close()
            server.wait(timeout=30)
    print_table("pywinrm recipe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
