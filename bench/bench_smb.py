"""SMB transfer throughput of LabDeck (SmbTransfer) against Samba's own ``smbclient``, in one run.

    /tmp/venv/bin/python -m bench.bench_smb [--size-mib 256] [--repeat 3]

Starts a throw-away Samba ``smbd`` on loopback (tests/support/smbd.py, needs root), writes SIZE
MiB of random data and measures, each REPEAT times (median):

1. upload   -- SmbTransfer.upload_file (part file, resume check, SHA-256 of what was sent,
               mtime set, atomic rename) vs ``smbclient put`` of the same file to the same share.
2. download -- SmbTransfer.download_file (LocalPart, SHA-256 of what arrived, size/mtime check,
               atomic rename) vs ``smbclient get``.

LabDeck requires SMB signing (every message integrity-checked); ``smbclient`` is run with
``--client-protection=sign`` so both sides pay for it. No target is set for SMB (the issue's
targets are for SFTP against scp): the rows print the ratio.

Diagnostic rows (no target): ``smbclient`` unsigned; LabDeck with one 8 MiB request at a
time instead of eight 2 MiB ones in flight; and what a read-back verification of an
upload would add (SmbTransfer.sha256 of the uploaded file: reading it back over the wire).

Always exits 0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
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

from bench.report import NOTES, ROWS, Row, print_table  # noqa: E402
from labdeck.core.smb_paths import SmbLayout  # noqa: E402
from labdeck.executors.winrm import smb_io  # noqa: E402
from labdeck.executors.winrm.smb_transfer import SmbTransfer  # noqa: E402
from tests.support.smbd import SmbdServer  # noqa: E402


def mibps(size: int, seconds: float) -> float:
    return size / seconds / (1 << 20)


def timed(fn, repeat: int, cleanup) -> float:
    times = []
    for _ in range(repeat):
        cleanup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Bench:
    def __init__(self, server: SmbdServer, work: Path, size: int, repeat: int):
        self.server, self.work, self.size, self.repeat = server, work, size, repeat
        self.src = work / "random.bin"
        with open(self.src, "wb") as f:
            for _ in range(size >> 20):
                f.write(os.urandom(1 << 20))
        self.auth = work / "smbclient.auth"
        self.auth.write_text(f"username={server.user}\npassword={server.password}\n")
        self.auth.chmod(0o600)
        self.backend = SmbTransfer("bench", SmbLayout(server.host, server.share, "C:\\"), server.user,
                                   server.password, server.port)
        self.backend.connect()

    def smbclient(self, command: str, protection: str = "sign") -> None:
        subprocess.run(["smbclient", f"//{self.server.host}/{self.server.share}", "-p", str(self.server.port),
                        "-A", str(self.auth), f"--client-protection={protection}", "-c", command],
                       check=True, capture_output=True, timeout=600)

    def labdeck_up(self) -> None:
        self.backend.upload_file(self.src, "up.bin", lambda n: None, threading.Event())

    def labdeck_down(self) -> None:
        entry = self.backend.stat("down.bin")
        self.backend.download_file(entry, self.work / "down.bin", lambda n: None, threading.Event())

    def clean(self, *paths: Path):
        def run() -> None:
            for path in paths:
                path.unlink(missing_ok=True)
        return run

    def run(self) -> None:
        share, size, rep = self.server.root, self.size, self.repeat
        shutil.copyfile(self.src, share / "down.bin")
        up = timed(self.labdeck_up, rep, self.clean(share / "up.bin"))
        ref_up = timed(lambda: self.smbclient(f"put {self.src} ref-up.bin"), rep, self.clean(share / "ref-up.bin"))
        down = timed(self.labdeck_down, rep, self.clean(self.work / "down.bin"))
        ref_down = timed(lambda: self.smbclient(f"get down.bin {self.work / 'ref-down.bin'}"), rep,
                         self.clean(self.work / "ref-down.bin"))
        mib = size >> 20
        for name, ours, ref in ((f"upload {mib} MiB (signed)", up, ref_up), (f"download {mib} MiB (signed)", down,
                                                                              ref_down)):
            ratio = ref / ours
            ROWS.append(Row(name, f"{mibps(size, ours):.0f} MiB/s", f"{mibps(size, ref):.0f} MiB/s",
                            f"{ratio:.2f}x", "-", None))
        unsigned_up = timed(lambda: self.smbclient(f"put {self.src} ref-up.bin", "off"), rep,
                            self.clean(share / "ref-up.bin"))
        unsigned_down = timed(lambda: self.smbclient(f"get down.bin {self.work / 'ref-down.bin'}", "off"), rep,
                              self.clean(self.work / "ref-down.bin"))
        ROWS.append(Row("smbclient unsigned up / down", "-", f"{mibps(size, unsigned_up):.0f} / "
                        f"{mibps(size, unsigned_down):.0f} MiB/s", "-", "-", None))
        serial = {"READ_BLOCK": 8 << 20, "READ_DEPTH": 1, "WRITE_BLOCK": 8 << 20, "WRITE_DEPTH": 1}
        tuned = {name: getattr(smb_io, name) for name in serial}
        vars(smb_io).update(serial)
        try:
            one_up = timed(self.labdeck_up, rep, self.clean(share / "up.bin"))
            one_down = timed(self.labdeck_down, rep, self.clean(self.work / "down.bin"))
        finally:
            vars(smb_io).update(tuned)
        ROWS.append(Row("one 8 MiB request at a time up / down", f"{mibps(size, one_up):.0f} / "
                        f"{mibps(size, one_down):.0f} MiB/s", f"{mibps(size, up):.0f} / {mibps(size, down):.0f} "
                        f"MiB/s pipelined", "-", "-", None))
        self.labdeck_up()
        readback = timed(lambda: self.backend.sha256("up.bin"), rep, lambda: None)
        ROWS.append(Row("upload + read-back hash (not done)", f"{mibps(size, up + readback):.0f} MiB/s",
                        f"{mibps(size, up):.0f} MiB/s without", f"+{readback / up:.0%} time", "-", None))
        self.backend.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labdeck-bench-smb-") as tmp:
        server = SmbdServer(Path(tmp) / "smbd").start()
        try:
            work = Path(tmp) / "work"
            work.mkdir()
            Bench(server, work, args.size_mib << 20, args.repeat).run()
        finally:
            server.stop()
    print(f"SMB transfers, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    NOTES.append("ratio = smbclient's time / LabDeck's time (above 1: LabDeck faster)")
    print_table("smbclient (Samba)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
