"""Detached runs on real sshd nodes: they keep running when LabDeck stops or is killed, a new
LabDeck process re-attaches and records the real outcome with the complete log, a timeout
still kills the whole process group, and a command that vanished is "lost"."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labdeck.core.models import Job, JobPolicy, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from labdeck.engine.engine import Engine
from labdeck.executors.ssh import connection as ssh_connection
from labdeck.store import engine_files, paths
from labdeck.store.catalog import Catalog
from labdeck.store.detached import DetachedStore
from tests.conftest import add_sshd_node
from tests.support.cli import CLI_ENV
from tests.support.netns import NetnsLink
from tests.support.runs import DETACHED, assert_complete_log, counting_job, log_text, processes_matching, run_job
from tests.support.waiting import wait_for


def labdeck_cli(data_dir, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), *args],
                            capture_output=True, text=True, timeout=60, env=CLI_ENV)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_detached_steps_report_exit_code_output_and_failing_step(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    job = Job(name="steps", targets=sshd_node.name, policy=DETACHED, steps=[
        Step(command='echo "one $LABDECK_NODE"'),
        Step(kind=StepKind.SCRIPT, filename="two.sh", script='echo two; echo oops >&2; exit 3'),
        Step(command="echo never"),
    ])
    run, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert run.status is RunStatus.FAILED
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3
    assert nr.message == "step 2 exited with code 3"
    text = Path(nr.log_path).read_text()
    assert f"one {sshd_node.name}\n" in text and "two\n" in text and "oops\n" in text and "never" not in text
    assert "started detached" in text


def test_long_timeout_jobs_launch_detached_by_default(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    job = Job(name="long", targets=sshd_node.name, steps=[Step(command="echo ok")], policy=JobPolicy(timeout_s=3600))
    run, node_runs = run_job(engine, job)
    assert run.status is RunStatus.SUCCEEDED
    assert DetachedStore(engine.catalog).get(node_runs[sshd_node.name].id) is not None


def test_detached_timeout_kills_the_whole_group_on_the_node(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    marker = f"labdeck-detached-{uuid.uuid4().hex[:8]}"
    command = f"trap '' TERM; sh -c 'sleep 300; : {marker}' & sh -c 'sleep 301; : {marker}'"
    job = Job(name="slow", targets=sshd_node.name, steps=[Step(command=command)],
              policy=JobPolicy(launch="detached", timeout_s=2))
    run, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert nr.status is NodeRunStatus.TIMED_OUT
    assert nr.kill_state is KillState.KILLED
    assert nr.message == "detached command timed out; process tree killed"
    assert processes_matching(marker) == []


def test_closing_labdeck_leaves_detached_runs_going_and_a_new_process_finishes_them(data_dir, sshd_node, tmp_path):
    first = Engine(data_dir)
    add_sshd_node(first, sshd_node)
    first.catalog.add_job(counting_job("count", sshd_node.name, tmp_path, 4))
    run = first.start_job("count")
    nr = first.catalog.node_runs(run.id)[0]
    wait_for(lambda: "line 1 of" in log_text(nr.log_path), 20, "the first line")
    first.close()  # what quitting the app does
    labdeck_cli(data_dir, "setting", "heartbeat_s", "45")
    assert ["heartbeat_s", "45"] in [line.split()[:2] for line in labdeck_cli(data_dir, "setting").splitlines()]
    assert "1 running (detached)" in labdeck_cli(data_dir, "runs")
    second = Engine(data_dir)
    try:
        assert second.catalog.get_node_run(nr.id).status is NodeRunStatus.RUNNING  # not "interrupted"
        assert second.adopt_detached() == [run.id]
        assert second.wait(run.id, 30)
        nr = second.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0 and "re-attached" in nr.message
        assert second.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
        assert_complete_log(nr, sshd_node.name, 4)
        assert (tmp_path / f"{sshd_node.name}.starts").read_text() == "started\n"
        assert "1 succeeded (1 re-attached)" in labdeck_cli(data_dir, "runs")
    finally:
        second.close()


def test_a_command_gone_from_its_node_is_lost_not_running(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    job = Job(name="vanish", targets=sshd_node.name, steps=[Step(command="sleep 120")], policy=DETACHED)
    engine.catalog.add_job(job)
    run = engine.start_job("vanish")
    nr = engine.catalog.node_runs(run.id)[0]
    store = DetachedStore(engine.catalog)
    pgid = wait_for(lambda: (store.get(nr.id) or None) and store.get(nr.id).pgid, 20, "the process group")
    os.killpg(pgid, signal.SIGKILL)  # as a node restart would: no exit code is ever written
    assert engine.wait(run.id, 30)
    nr = engine.catalog.get_node_run(nr.id)
    assert nr.status is NodeRunStatus.LOST
    assert "gone from node" in nr.message


@pytest.mark.slow
def test_ten_detached_runs_survive_a_killed_controller(data_dir, sshd_nodes, tmp_path):
    """The acceptance case: SIGKILL the LabDeck process mid-run; a new one re-attaches."""
    nodes = sshd_nodes(10)
    setup = Engine(data_dir)
    for sshd in nodes:
        add_sshd_node(setup, sshd, tags=["lab"])
    setup.catalog.add_job(counting_job("train", "tag:lab", tmp_path, 30, every_s=0.5))
    setup.close()

    controller = subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "run", "train"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp_path / "controller.err", "w"), env=CLI_ENV)
    watcher = Catalog(paths.catalog_path(data_dir))  # reads only: the engine service owns the catalog
    try:
        def started() -> list[int]:
            assert controller.poll() is None, (tmp_path / "controller.err").read_text()
            return [r.id for r in watcher.list_runs("train")]
        run_id = wait_for(started, 30, "the run")[0]
        store = DetachedStore(watcher)

        def all_going() -> bool:
            nrs = watcher.node_runs(run_id)
            return len(nrs) == 10 and all((store.get(nr.id) or None) and store.get(nr.id).pgid
                                          and "line 3 of" in log_text(nr.log_path) for nr in nrs)
        wait_for(all_going, 40, "10 node runs with output")
        # The controller is the catalog's engine process (the CLI only follows the run): kill it.
        os.kill(engine_files.read_address(data_dir).pid, signal.SIGKILL)
        controller.wait(20)
        wait_for(lambda: engine_files.try_lock(data_dir), 10, "the dead engine's lock to be free").release()
    finally:
        watcher.close()

    successor = Engine(data_dir)
    try:
        assert successor.adopt_detached() == [run_id]
        assert successor.wait(run_id, 60)
        assert successor.catalog.get_run(run_id).status is RunStatus.SUCCEEDED
        for nr in successor.catalog.node_runs(run_id):
            assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0, (nr.node_name, nr.message)
            assert_complete_log(nr, nr.node_name, 30)
            assert (tmp_path / f"{nr.node_name}.starts").read_text() == "started\n"  # never started twice
    finally:
        successor.close()


@pytest.mark.slow
def test_a_node_cut_off_mid_run_is_node_lost_then_reconciled_with_the_full_log(engine, sshd_cluster, tmp_path):
    """sshd in a network namespace; its link goes down mid-run and comes back."""
    heartbeat_s = 6  # the setting (30 s by default): node_lost after this long without an answer
    engine.catalog.set_setting("heartbeat_s", str(heartbeat_s))
    link = NetnsLink().create()
    sshd = None
    try:
        sshd = sshd_cluster.start_node_in(link.exec_prefix, link.ns_ip)
        add_sshd_node(engine, sshd)
        engine.catalog.add_job(counting_job("far", sshd.name, tmp_path, 15))
        run = engine.start_job("far")
        nr = engine.catalog.node_runs(run.id)[0]
        wait_for(lambda: "line 2 of" in log_text(nr.log_path), 30, "the first lines")
        link.down()
        cut = time.monotonic()
        wait_for(lambda: engine.catalog.get_node_run(nr.id).status is NodeRunStatus.NODE_LOST, 45, "node_lost")
        assert time.monotonic() - cut <= heartbeat_s + 10
        assert "has not answered" in engine.catalog.get_node_run(nr.id).message
        link.up()
        assert engine.wait(run.id, 90)
        nr = engine.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0
        assert_complete_log(nr, sshd.name, 15)
        assert "answers again" in log_text(nr.log_path)
    finally:
        if sshd is not None:
            sshd.stop()
        link.delete()


@pytest.mark.slow
def test_an_attached_run_on_a_silent_node_is_unreachable_and_names_its_process_group(engine, sshd_cluster, tmp_path,
                                                                                      monkeypatch):
    """Attached commands live on their connection: one that gets no answer for 20 s is closed
    (TCP_USER_TIMEOUT), and the node run says the command may still be running, and where."""
    monkeypatch.setattr(ssh_connection, "DEAD_PEER_S", 5)  # the 20 s, shortened: the same socket option
    link = NetnsLink().create()
    sshd = None
    try:
        sshd = sshd_cluster.start_node_in(link.exec_prefix, link.ns_ip)
        add_sshd_node(engine, sshd)
        job = counting_job("near", sshd.name, tmp_path, 60)
        job.policy = JobPolicy(launch="attached")
        engine.catalog.add_job(job)
        run = engine.start_job("near")
        nr = engine.catalog.node_runs(run.id)[0]
        wait_for(lambda: "line 2 of" in log_text(nr.log_path), 30, "the first lines")
        link.silence()
        cut = time.monotonic()
        assert engine.wait(run.id, 60)
        assert time.monotonic() - cut <= 40
        nr = engine.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.UNREACHABLE
        assert "may still be running there (process group" in nr.message
    finally:
        if sshd is not None:
            sshd.stop()
        link.delete()


def test_a_detached_job_puts_inputs_first_and_gets_results_after_a_restart(data_dir, sshd_node, tmp_path):
    first = Engine(data_dir)
    add_sshd_node(first, sshd_node)
    (tmp_path / "data.txt").write_text("42\n")
    remote = f"labdeck-detached-{uuid.uuid4().hex[:8]}"  # in the node's login folder
    first.catalog.add_job(Job(name="train", targets=sshd_node.name, policy=DETACHED, steps=[
        Step(kind=StepKind.PUT, source=str(tmp_path / "data.txt"), destination=remote),
        # waits for the test's go-ahead: the first LabDeck must close while the command runs
        Step(command=f"while [ ! -e {remote}/go ]; do sleep 0.1; done; cat {remote}/data.txt > {remote}/result.txt; "
                     "echo trained"),
        Step(kind=StepKind.GET, source=f"{remote}/result.txt", destination=str(tmp_path / "results")),
    ]))
    run = first.start_job("train")
    nr = first.catalog.node_runs(run.id)[0]
    try:
        wait_for(lambda: "started detached" in log_text(nr.log_path), 20, "the detached launch")
        first.close()  # the results are fetched by the next LabDeck process
        second = Engine(data_dir)
        try:
            assert second.adopt_detached() == [run.id]
            (Path.home() / remote / "go").touch()
            assert second.wait(run.id, 30)
            assert second.catalog.get_node_run(nr.id).status is NodeRunStatus.SUCCEEDED
            assert (tmp_path / "results" / sshd_node.name / "result.txt").read_text() == "42\n"
        finally:
            second.close()
    finally:
        shutil.rmtree(Path.home() / remote, ignore_errors=True)


def test_a_host_key_change_during_reattach_keeps_the_node_run_and_its_result(data_dir, sshd_node, tmp_path):
    first = Engine(data_dir)
    add_sshd_node(first, sshd_node)
    command = 'i=1; while [ $i -le 22 ]; do echo "line $i"; i=$((i+1)); sleep 0.4; done; exit 3'
    first.catalog.add_job(Job(name="keyed", targets=sshd_node.name, steps=[Step(command=command)], policy=DETACHED))
    run = first.start_job("keyed")
    nr = first.catalog.node_runs(run.id)[0]
    wait_for(lambda: "line 1\n" in log_text(nr.log_path), 20, "the first line")
    first.close()
    sshd_node.stop()  # the node is reinstalled: same address, new host key; the command runs on
    sshd_node.regenerate_host_key()
    sshd_node.start()
    second = Engine(data_dir)
    try:
        assert second.adopt_detached() == [run.id]
        lost = wait_for(lambda: (n := second.catalog.get_node_run(nr.id)).status is NodeRunStatus.NODE_LOST and n,
                        20, "node_lost with the reason")
        assert "HOST KEY CHANGED" in lost.message and lost.exit_code is None
        time.sleep(1)
        assert not second.catalog.get_node_run(nr.id).status.is_final  # still re-attachable
        second.test_node(sshd_node.name, accept_host_key=True, replace_host_key=True)
        assert second.wait(run.id, 60)
        nr = second.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3, nr.message
        text = Path(nr.log_path).read_text()
        assert all(text.count(f"line {i}\n") == 1 for i in range(1, 23)), text
    finally:
        second.close()
