"""Detached runs on a Windows node through the WS-Management test server and pywinrm's real
client: output, exit code and failing step; a LabDeck process that closes (or is killed) mid-run
and a new one that re-attaches; a timeout that kills the tree; a command gone without an exit
code; a node switched off mid-run; a WinRM and an SSH node in one detached run.

The server emulates the detached helpers on Linux (tests/support/wsman_emulation.py): the
launcher's steps run with /bin/sh under a new session writing the same run folder files, so the
commands here are sh text. The PowerShell itself (Win32_Process.Create, the cmd redirection,
the status and read scripts) is checked as strings in tests/unit/test_winrm_detached.py; none
of it has run on Windows here."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from labdeck.core.models import Job, JobOption, JobPolicy, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from labdeck.engine.engine import Engine
from labdeck.store import engine_files, paths
from labdeck.store.catalog import Catalog
from labdeck.store.detached import DetachedStore
from tests.conftest import add_sshd_node, add_winrm_node
from tests.support.runs import DETACHED, assert_complete_log, counting_job, log_text, processes_matching, run_job
from tests.support.waiting import wait_for


def test_detached_steps_on_windows_report_output_exit_code_and_failing_step(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="steps", targets="win1", policy=DETACHED, steps=[
        Step(command='echo "one $LABDECK_NODE"'),
        Step(kind=StepKind.SCRIPT, filename="two.bat", script='echo two; echo oops >&2; exit 3'),
        Step(command="echo never"),
    ])
    run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert run.status is RunStatus.FAILED
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3
    assert nr.message == "step 2 exited with code 3"
    text = Path(nr.log_path).read_text()
    assert "one win1\n" in text and "two\n" in text and "oops\n" in text and "never" not in text
    record = DetachedStore(engine.catalog).get(nr.id)
    assert f"started detached on win1 (launcher process {record.pgid}, folder %USERPROFILE%\\.labdeck\\runs\\" in text
    record = DetachedStore(engine.catalog).get(nr.id)
    folder = wsman_server.root / "profile" / record.remote_dir.replace("\\", "/")
    assert (folder / "exit").read_text() == "3 2\n"  # the run folder on the node keeps the outcome
    assert (folder / "launch.ps1").read_bytes().startswith(b"\xef\xbb\xbf# labdeck-detached-launcher")


def test_a_hostile_option_value_reaches_a_detached_cmd_step_intact(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    hostile = "a & echo INJECTED | more %PATH% !x! $(id) `id` ' \" \u2019 ^ > out.txt"
    job = Job(name="opts", targets="win1", options=[JobOption("v", default="x")], policy=DETACHED,
              steps=[Step(command="echo [${option.v}]")])
    _run, node_runs = run_job(engine, job, {"v": hostile})
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert f"[{hostile}]\n" in Path(nr.log_path).read_text()


def test_closing_labdeck_leaves_a_windows_run_going_and_a_new_process_finishes_it(data_dir, wsman_server, tmp_path):
    first = Engine(data_dir)
    add_winrm_node(first, wsman_server)
    first.catalog.add_job(counting_job("count", "win1", tmp_path, 4))
    run = first.start_job("count")
    nr = first.catalog.node_runs(run.id)[0]
    wait_for(lambda: "line 1 of" in log_text(nr.log_path), 30, "the first line")
    first.close()  # what quitting the app does: its WinRM shells are deleted
    second = Engine(data_dir)
    try:
        assert second.catalog.get_node_run(nr.id).status is NodeRunStatus.RUNNING
        assert second.adopt_detached() == [run.id]
        assert second.wait(run.id, 60)
        nr = second.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0 and "re-attached" in nr.message
        assert second.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
        assert_complete_log(nr, "win1", 4)
        assert (tmp_path / "win1.starts").read_text() == "started\n"  # never started twice
    finally:
        second.close()


def test_a_detached_timeout_on_windows_kills_the_tree(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    marker = f"labdeck-windetached-{uuid.uuid4().hex[:8]}"
    command = f"trap '' TERM; sh -c 'sleep 300; : {marker}' & sh -c 'sleep 301; : {marker}'"
    job = Job(name="slow", targets="win1", steps=[Step(command=command)],
              policy=JobPolicy(launch="detached", timeout_s=3))
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.TIMED_OUT
    assert nr.kill_state is KillState.KILLED
    assert processes_matching(marker) == []


def test_a_detached_timeout_on_windows_ends_what_left_the_tree_through_the_runs_job_object(engine, wsman_server):
    # A child whose parent is gone is out of taskkill /T's reach on Windows (as a setsid child is
    # out of the test server's process group); it is still in the launcher's named Job Object,
    # which the kill ends first. Before, the escaped child lived on after a "killed" run.
    add_winrm_node(engine, wsman_server)
    marker = f"labdeck-windetached-escaped-{uuid.uuid4().hex[:8]}"
    seconds = 1000 + uuid.uuid4().int % 5000  # marks the escaped sleep itself
    command = f"setsid sh -c 'sleep {seconds}; : {marker}' & echo started; sleep 300"
    job = Job(name="escape", targets="win1", steps=[Step(command=command)],
              policy=JobPolicy(launch="detached", timeout_s=3))
    try:
        _run, node_runs = run_job(engine, job)
        nr = node_runs["win1"]
        assert nr.status is NodeRunStatus.TIMED_OUT and nr.kill_state is KillState.KILLED, nr.message
        assert processes_matching(marker) == [] and processes_matching(f"sleep {seconds}") == []
    finally:
        for line in subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout.splitlines():
            if marker in line or line.endswith(f"sleep {seconds}"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(line.split()[0]), signal.SIGKILL)


def test_a_windows_and_an_ssh_node_in_one_detached_run(engine, wsman_server, sshd_node):
    add_winrm_node(engine, wsman_server, tags=["mixed"])
    add_sshd_node(engine, sshd_node, tags=["mixed"])
    job = Job(name="both", targets="tag:mixed", policy=DETACHED,
              steps=[Step(command='echo "hello from $LABDECK_NODE"; echo "done on $LABDECK_NODE" >&2')])
    run, node_runs = run_job(engine, job)
    assert run.status is RunStatus.SUCCEEDED
    store = DetachedStore(engine.catalog)
    for name in ("win1", sshd_node.name):
        nr = node_runs[name]
        assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0
        text = Path(nr.log_path).read_text()
        assert f"hello from {name}\n" in text and f"done on {name}\n" in text
        assert store.get(nr.id) is not None
    assert store.get(node_runs["win1"].id).remote_dir.startswith(".labdeck\\runs\\")


def test_a_windows_command_gone_from_its_node_is_lost_not_running(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="vanish", targets="win1", steps=[Step(command="sleep 120")], policy=DETACHED)
    engine.catalog.add_job(job)
    run = engine.start_job("vanish")
    nr = engine.catalog.node_runs(run.id)[0]
    store = DetachedStore(engine.catalog)
    pid = wait_for(lambda: (store.get(nr.id) or None) and store.get(nr.id).pgid, 30, "the launcher's pid")
    os.killpg(pid, signal.SIGKILL)  # as a node restart would: no exit code is ever written
    assert engine.wait(run.id, 30)
    nr = engine.catalog.get_node_run(nr.id)
    assert nr.status is NodeRunStatus.LOST
    assert "gone from node" in nr.message


@pytest.mark.slow
def test_a_windows_node_switched_off_mid_run_is_node_lost_then_reconciled_with_the_full_log(
        engine, wsman_server, tmp_path):
    engine.catalog.set_setting("heartbeat_s", "6")
    add_winrm_node(engine, wsman_server)
    engine.catalog.add_job(counting_job("far", "win1", tmp_path, 15, every_s=0.5))
    run = engine.start_job("far")
    nr = engine.catalog.node_runs(run.id)[0]
    wait_for(lambda: "line 2 of" in log_text(nr.log_path), 30, "the first lines")
    wsman_server.stop()  # no listener, connections reset, shells forgotten; the launcher goes on
    wait_for(lambda: engine.catalog.get_node_run(nr.id).status is NodeRunStatus.NODE_LOST, 30, "node_lost")
    wsman_server.start()  # the same port again
    assert engine.wait(run.id, 60)
    nr = engine.catalog.get_node_run(nr.id)
    assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0
    assert_complete_log(nr, "win1", 15)
    assert "answers again" in log_text(nr.log_path)


def _engine_gone(data_dir) -> bool:
    lock = engine_files.try_lock(data_dir)
    if lock is not None:
        lock.release()
    return lock is not None


def test_windows_runs_survive_a_killed_controller(data_dir, wsman_server, tmp_path):
    """SIGKILL the LabDeck process mid-run (its WinRM shells are never closed); a new one re-attaches."""
    names = ["win1", "win2", "win3"]
    setup = Engine(data_dir)
    for name in names:  # three nodes on one test server: each run has its own folder there
        add_winrm_node(setup, wsman_server, name=name, tags=["lab"])
    setup.catalog.add_job(counting_job("train", "tag:lab", tmp_path, 10))
    setup.close()

    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "app")}  # with the test keyring
    controller = subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "run", "train"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp_path / "controller.err", "w"), env=env)
    watcher = Catalog(paths.catalog_path(data_dir))  # reads only: the engine service owns the catalog
    try:
        def started() -> list[int]:
            assert controller.poll() is None, (tmp_path / "controller.err").read_text()
            return [r.id for r in watcher.list_runs("train")]
        run_id = wait_for(started, 30, "the run")[0]
        store = DetachedStore(watcher)

        def all_going() -> bool:
            nrs = watcher.node_runs(run_id)
            return len(nrs) == 3 and all((store.get(nr.id) or None) and store.get(nr.id).pgid
                                         and "line 2 of" in log_text(nr.log_path) for nr in nrs)
        wait_for(all_going, 40, "3 node runs with output")
        # The controller is the catalog's engine process (the CLI only follows the run): kill it.
        os.kill(engine_files.read_address(data_dir).pid, signal.SIGKILL)
        controller.wait(20)
        wait_for(lambda: _engine_gone(data_dir), 10, "the dead engine's lock to be free")
    finally:
        watcher.close()

    successor = Engine(data_dir)
    try:
        assert successor.adopt_detached() == [run_id]
        assert successor.wait(run_id, 60)
        assert successor.catalog.get_run(run_id).status is RunStatus.SUCCEEDED
        for nr in successor.catalog.node_runs(run_id):
            assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0, (nr.node_name, nr.message)
            assert "re-attached" in nr.message
            assert_complete_log(nr, nr.node_name, 10)
            assert (tmp_path / f"{nr.node_name}.starts").read_text() == "started\n"  # never started twice
    finally:
        successor.close()
