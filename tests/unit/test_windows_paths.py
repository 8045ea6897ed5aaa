"""The controller's Windows branches that Linux can run: the orphan check never mistakes a
process that reused a pid for the run's owner, and the daemon's stop signals. (Local runs on
Windows are killed through Job Objects: tests/unit/test_windows_local.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil

from labdeck.cli.daemon import stop_signals
from labdeck.core.models import Trigger
from labdeck.core.status import RunStatus
from labdeck.engine.reconcile import controller_alive, reconcile_orphans
from labdeck.store.catalog import Catalog


def test_owner_check_never_signals_and_spots_a_reused_pid(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        created = psutil.Process(other.pid).create_time()
        assert controller_alive(other.pid, run_started_at=created + 1)  # started before the run: may own it
        assert not controller_alive(other.pid, run_started_at=created - 3600)  # a newer process with that pid
        assert other.poll() is None  # asking did not end it (os.kill(pid, 0) would have on Windows)

        catalog = Catalog(tmp_path / "c.sqlite")
        run, _ = catalog.create_run("gen", None, Trigger.MANUAL, {}, "all", ["a"], lambda r, n: tmp_path / f"{n}.log")
        catalog._conn.execute("UPDATE runs SET owner_pid = ?, started_at = ? WHERE id = ?",
                              (other.pid, created - 3600, run.id))
        assert reconcile_orphans(catalog, set()) == [run.id]
        assert catalog.get_run(run.id).status is RunStatus.INTERRUPTED
        catalog.close()
    finally:
        other.kill()
        other.wait()


def test_daemon_stops_on_term_and_ctrl_c_and_on_ctrl_break_where_it_exists():
    signals = stop_signals()
    assert signal.SIGTERM in signals and signal.SIGINT in signals
    assert (getattr(signal, "SIGBREAK", None) in signals) is hasattr(signal, "SIGBREAK")
