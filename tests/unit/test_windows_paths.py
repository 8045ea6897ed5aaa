"""The controller's Windows branches that Linux can run: the tree kill verifies every process of
the tree (taskkill itself is Windows-only, so a POSIX kill stands in for it here), the orphan
check never mistakes a process that reused a pid for the run's owner, and the daemon's stop
signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from labdeck.cli.daemon import stop_signals
from labdeck.core.models import Trigger
from labdeck.core.status import KillState, RunStatus
from labdeck.engine.reconcile import controller_alive, reconcile_orphans
from labdeck.executors.local.process_tree import kill_tree, process_tree, taskkill_argv
from labdeck.store.catalog import Catalog


def start_tree() -> tuple[subprocess.Popen, int]:
    """sh (leader) -> sleep (grandchild in the same group); returns the leader and the sleep's pid."""
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    child = int(proc.stdout.readline())
    return proc, child


def stand_in_for_taskkill(whole_tree: bool):
    """What taskkill /T /F does on Windows (kill the process and its descendants), done with POSIX
    signals; with whole_tree=False it kills only the leader, as a taskkill without /T would."""
    return lambda pid: ["kill", "-KILL", "--", f"-{pid}" if whole_tree else str(pid)]


def test_taskkill_ends_the_tree_forcefully():
    assert taskkill_argv(4242) == ["taskkill", "/T", "/F", "/PID", "4242"]


def test_tree_kill_confirms_every_process_is_gone():
    proc, child = start_tree()
    assert {p.pid for p in process_tree(proc.pid)} >= {proc.pid, child}
    assert kill_tree(proc, grace_s=0.2, kill_argv=stand_in_for_taskkill(whole_tree=True)) is KillState.KILLED
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_tree_kill_reports_unconfirmed_when_a_descendant_survives():
    proc, child = start_tree()
    try:
        state = kill_tree(proc, grace_s=0.2, kill_argv=stand_in_for_taskkill(whole_tree=False), settle_s=0.5)
        assert state is KillState.KILL_UNCONFIRMED  # the leader is dead, but its sleep still runs
        assert psutil.Process(child).is_running()
    finally:
        os.kill(child, signal.SIGKILL)


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
