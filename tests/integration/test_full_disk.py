"""A data folder on a tiny real filesystem (a 2 MB tmpfs mounted by the test, as root) and a
run writing 5 MB: the log stops with a note, the run ends with a clear status well within its
timeout, the catalog stays consistent, and every message says which disk is full."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

LABDECK = [sys.executable, "-m", "labdeck.cli"]


@pytest.fixture
def tiny_disk(tmp_path):
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MB tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount is not permitted here ({mounted.stderr.strip()})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def labdeck(data_dir: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([*LABDECK, "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ | {"PYTHONUNBUFFERED": "1"})


def test_a_run_filling_the_disk_ends_clearly_and_the_catalog_stays_usable(tiny_disk):
    data = tiny_disk / "data"
    started = time.monotonic()
    result = labdeck(data, "exec", "--targets", "this-computer", "--timeout", "20", "--",
                     "head -c 3750000 /dev/urandom | base64; sleep 60")  # 5 MB of output, then it waits
    assert time.monotonic() - started < 20, "labdeck exec did not return by its own timeout"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"the disk holding {data} is full" in result.stderr, result.stderr

    runs = json.loads(labdeck(data, "runs", "--json").stdout)
    assert runs[0]["status"] == "failed"
    run_id = runs[0]["run_id"] if "run_id" in runs[0] else runs[0]["id"]
    log = data / "logs" / str(run_id) / "this-computer.log"
    assert log.read_text(errors="replace").endswith(f"[labdeck] the disk holding {data} is full: the log stops here\n")
    with sqlite3.connect(data / "catalog.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        row = conn.execute("SELECT status, message FROM node_runs WHERE run_id = ?", (run_id,)).fetchone()
    assert row[0] == "error" and f"the disk holding {data} is full" in row[1]


def test_a_disk_already_full_gets_one_line_naming_it_and_reading_still_works(tiny_disk):
    data = tiny_disk / "data"
    assert labdeck(data, "node", "list").returncode == 0  # the catalog exists
    filler = tiny_disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    for reserve in data.glob(".labdeck-space-reserve"):  # nothing left to give back either
        with open(filler, "ab") as f:
            try:
                reserve.unlink()
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass
    result = labdeck(data, "exec", "--targets", "this-computer", "--", "echo", "hi")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"the disk holding {data} is full" in result.stderr, result.stderr
    listed = labdeck(data, "node", "list")
    assert listed.returncode == 0 and "this-computer" in listed.stdout, listed.stderr
    filler.unlink()
    assert labdeck(data, "exec", "--targets", "this-computer", "--", "echo", "hi").returncode == 0
