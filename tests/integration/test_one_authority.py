"""One authority per catalog, on real sshd nodes: every LabDeck process (the CLI's commands, the
daemon, a client like the app's) goes through the catalog's one engine service, so queue,
placement, node health, restarts and recovery hold across all of them."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labdeck.core.events import Notification
from labdeck.core.status import NodeRunStatus, RunStatus
from labdeck.engine.engine_process import EngineProcess
from labdeck.store import engine_files, run_queue
from tests.conftest import add_sshd_node
from tests.support.runs import add_job, set_capacity
from tests.support.waiting import wait_for

APP_DIR = str(Path(__file__).resolve().parents[2] / "app")


@pytest.fixture
def client(data_dir):
    engine = EngineProcess(data_dir)
    yield engine
    engine.close(cancel_running=True, stop_engine=True)


def tasks_of(engine, run_id: int) -> list[tuple]:
    """(task run, its node run's fields) of a planned run, oldest first."""
    return run_queue.task_runs(engine.catalog, run_id)


def cli_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": APP_DIR, "PYTHONUNBUFFERED": "1"}


def cli(data_dir, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), **popen)


# ---- 2. node health is part of placement -----------------------------------------------------


def test_a_node_killed_mid_array_moves_its_items_and_gets_nothing_new(client, sshd_nodes):
    nodes = sshd_nodes(3)
    for sshd in nodes:
        add_sshd_node(client, sshd, tags=["lab"])
    dead = nodes[0]
    add_job(client, "name: spread\ntargets: tag:lab\narray: 15\nslots_per_node: 1\n"
                    "policy: {unreachable: move, retries: 2, retry_on: other}\n"
                    "steps: ['sleep 1; echo item $LABDECK_ITEM on $LABDECK_NODE']\n")
    run = client.start_job("spread")
    # the dead node's sshd and its established sessions go while one of its items runs
    wait_for(lambda: any(nr["node_name"] == dead.name and nr["status"] == "running" for _, nr in tasks_of(client,
                                                                                                          run.id))
             and sum(nr["status"] == "succeeded" for _, nr in tasks_of(client, run.id)) >= 2,
             what="an item running on the node to kill")
    dead.stop()
    assert client.wait(run.id, 120)
    final = client.catalog.get_run(run.id)
    assert final.status is RunStatus.SUCCEEDED, final.note
    assert final.note == "15 / 15 done"
    tasks = tasks_of(client, run.id)
    latest = {}
    for task, nr in tasks:
        latest[task.task] = (task, nr)
    assert sorted(latest, key=int) == [str(i) for i in range(15)]
    assert all(nr["status"] == "succeeded" for _, nr in latest.values())
    lost = [(task, nr) for task, nr in tasks if nr["status"] == "unreachable"]
    assert lost and all(nr["node_name"] == dead.name for _, nr in lost)
    found_down = min(nr["finished_at"] for _, nr in lost)
    placed_after = [task.task for task, nr in tasks if nr["node_name"] == dead.name and task.started_at > found_down]
    assert placed_after == []  # nothing placed on the dead node once it was found down
    moved = [latest[task.task] for task, _ in lost]
    assert all(nr["node_name"] != dead.name and nr["status"] == "succeeded" for _, nr in moved)
    assert all("(moved: " in task.note for task, _ in moved)


@pytest.mark.parametrize("policy", ["wait", "fail"])
def test_in_flight_items_on_a_dead_node_follow_the_jobs_unreachable_policy(client, sshd_node, policy):
    # Added unchecked, the node is first probed by the engine's health watcher; once that probe is
    # in, the next is a probe interval away, so the items (not a probe) are what find it gone.
    add_sshd_node(client, sshd_node, tags=["lab"], check=False)
    wait_for(lambda: client.catalog.get_node(sshd_node.name).last_seen, 30, "the watcher's first probe")
    # 'fail': one item. A second one is placed only if the placement loop reaches it before the
    # first has found the node down (milliseconds); after that it waits in the queue for the
    # node, as any new work does for a down node, and this node never comes back.
    items = 2 if policy == "wait" else 1
    add_job(client, f"name: hold\ntargets: tag:lab\narray: {items}\nslots_per_node: 2\n"
                    f"policy: {{unreachable: {policy}, unreachable_wait_s: 30}}\nsteps: ['sleep 2; echo done']\n")
    sshd_node.stop()  # the node goes away before its items reach it (killing sshd under a running command
    # can also end the command first, which is a failed item, not an unreachable one)
    run = client.start_job("hold")
    wait_for(lambda: client.node_down(sshd_node.name), 30, "the items to find the node gone")
    if policy == "wait":
        time.sleep(1)
        sshd_node.start()  # back within the wait: the items run there
    assert client.wait(run.id, 90)
    final = client.catalog.get_run(run.id)
    tasks = tasks_of(client, run.id)
    if policy == "wait":
        assert final.status is RunStatus.SUCCEEDED, (final.note, [(nr["status"], nr["message"]) for _, nr in tasks])
        assert {nr["node_name"] for _, nr in tasks} == {sshd_node.name}
    else:
        assert final.status is RunStatus.FAILED and final.note == "0 / 1 done, 1 failed"
        assert [nr["status"] for _, nr in tasks] == ["unreachable"]


def test_rerun_never_picks_a_node_that_is_down(client, sshd_nodes):
    up, down = sshd_nodes(2)
    for sshd in (up, down):
        add_sshd_node(client, sshd, tags=["lab"])
    add_job(client, "name: half\ntargets: tag:lab\narray: 6\nslots_per_node: 1\n"
                    "steps: ['test \"$LABDECK_NODE\" != " + down.name + " || exit 3; echo ok']\n")
    first = client.start_job("half")
    assert client.wait(first.id, 60)
    assert client.catalog.get_run(first.id).status is RunStatus.FAILED
    client.catalog.set_setting("probe_s", "1")  # the periodic probe finds it soon
    down.stop()
    wait_for(lambda: client.node_down(down.name), 30, "the stopped node to be found down")
    again = client.rerun_failed(first.id)
    assert client.wait(again.id, 60)
    assert client.catalog.get_run(again.id).status is RunStatus.SUCCEEDED
    assert {nr["node_name"] for _, nr in tasks_of(client, again.id)} == {up.name}


def test_a_node_that_comes_back_is_used_again_by_itself(client, sshd_nodes):
    (sshd,) = sshd_nodes(1)
    add_sshd_node(client, sshd, tags=["lab"])
    client.catalog.set_setting("probe_s", "1")
    sshd.stop()
    wait_for(lambda: client.node_down(sshd.name), 30, "the stopped node to be found down by a probe")
    add_job(client, "name: later\ntargets: tag:lab\narray: 2\nsteps: ['echo back']\n")
    run = client.start_job("later")
    wait_for(lambda: "is down since" in (next((e["reason"] for e in run_queue.entries(client.catalog)
                                                if e["run_id"] == run.id), "") or ""), 20, "the reason it waits")
    assert client.catalog.get_run(run.id).status is RunStatus.QUEUED
    sshd.start()
    assert client.wait(run.id, 60)  # the periodic probe finds it back; the items run there
    assert client.catalog.get_run(run.id).status is RunStatus.SUCCEEDED


# ---- 1. queue and placement are catalog-wide ------------------------------------------------


def test_two_cli_runs_competing_for_a_saturated_node_start_by_priority(data_dir, sshd_node, client):
    add_sshd_node(client, sshd_node, tags=["lab"])
    set_capacity(client, sshd_node.name, cpus=1)
    for name, priority, seconds in (("blocker", 5, 3), ("low", 1, 0.2), ("high", 9, 0.2)):
        add_job(client, f"name: {name}\ntargets: tag:lab\npriority: {priority}\nresources: {{cpus: 1}}\n"
                        f"steps: ['sleep {seconds}; date +%s.%N']\n")
    blocker = cli(data_dir, "run", "blocker", "--json")
    wait_for(lambda: any(r.job_name.startswith("blocker") and r.status is RunStatus.RUNNING
                         for r in client.catalog.list_runs(None, 10)), 30, "the node to be saturated")
    low = cli(data_dir, "run", "low", "--json")  # two separate processes, the lower priority first
    wait_for(lambda: any(r.job_name == "low" for r in client.catalog.list_runs("low", 5)), 30, "low queued")
    high = cli(data_dir, "run", "high", "--json")
    results = {name: json.loads(proc.communicate(timeout=120)[0]) for name, proc in
               (("blocker", blocker), ("low", low), ("high", high))}
    assert all(r["status"] == "succeeded" for r in results.values()), results
    started = {name: tasks_of(client, results[name]["run_id"])[0][1]["started_at"] for name in ("low", "high")}
    assert started["high"] < started["low"]


def test_queue_move_from_another_process_reorders_the_waiting_runs(data_dir, sshd_node, client):
    add_sshd_node(client, sshd_node, tags=["lab"])
    set_capacity(client, sshd_node.name, cpus=1)
    for name, seconds in (("blocker", 3), ("first", 0.2), ("second", 0.2)):
        add_job(client, f"name: {name}\ntargets: tag:lab\nresources: {{cpus: 1}}\nsteps: ['sleep {seconds}']\n")
    runs = {name: client.start_job(name) for name in ("blocker", "first", "second")}
    moved = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "queue", "move",
                            str(runs["second"].id), "--priority", "20"], capture_output=True, text=True,
                           env=cli_env(), timeout=60)
    assert moved.returncode == 0, moved.stderr
    for run in runs.values():
        assert client.wait(run.id, 60)
    started = {name: tasks_of(client, runs[name].id)[0][1]["started_at"] for name in ("first", "second")}
    assert started["second"] < started["first"]


# ---- 3. recovery without a human -------------------------------------------------------------


def test_an_interrupted_array_resumes_by_itself_at_the_next_daemon_start(data_dir, sshd_node, tmp_path):
    journal = tmp_path / "journal"
    daemon = cli(data_dir, "daemon")
    setup = wait_for(lambda: _connect(data_dir), 30, "the daemon's engine")
    try:
        add_sshd_node(setup, sshd_node, tags=["lab"])
        add_job(setup, f"name: long\ntargets: tag:lab\narray: 6\nslots_per_node: 1\n"
                       f"steps: ['sleep 0.5; echo $LABDECK_ITEM >> {journal}']\n")
        run = setup.start_job("long")
        wait_for(lambda: sum(nr["status"] == "succeeded" for _, nr in tasks_of(setup, run.id)) >= 2, 30,
                 "two items done")
    finally:
        setup.close()  # a client that leaves: the run goes on in the engine
    daemon.send_signal(signal.SIGTERM)  # the daemon, alone now, stops the engine: the array is interrupted
    daemon.communicate(timeout=60)
    assert engine_files.read_address(data_dir) is None
    again = cli(data_dir, "daemon")
    try:
        watch = wait_for(lambda: _connect(data_dir), 30, "the new daemon's engine")
        try:
            assert watch.catalog.get_run(run.id).status is RunStatus.INTERRUPTED
            resumed = wait_for(lambda: [r for r in watch.catalog.list_runs("long", 10) if r.parent_run_id == run.id],
                               30, "the resumed run")[0]
            assert str(resumed.trigger) == "resume"
            assert watch.wait(resumed.id, 60)
            assert watch.catalog.get_run(resumed.id).status is RunStatus.SUCCEEDED
            finished = watch.catalog.get_run(resumed.id)  # its history keeps why it ran, and how it ended
            assert finished.note.startswith(f"resumed by itself: run {run.id} was interrupted")
            assert finished.note.endswith(" done")
            assert f"resumed as run {resumed.id}" in watch.catalog.get_run(run.id).note
        finally:
            watch.close()
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=60)
    assert sorted(set(journal.read_text().split())) == [str(i) for i in range(6)]


def test_a_job_that_says_resume_manual_is_left_interrupted(data_dir, sshd_node):
    client = EngineProcess(data_dir)
    add_sshd_node(client, sshd_node, tags=["lab"])
    add_job(client, "name: careful\ntargets: tag:lab\narray: 4\nslots_per_node: 1\nresume: manual\n"
                    "steps: ['sleep 1']\n")
    run = client.start_job("careful")
    wait_for(lambda: any(nr["status"] == "running" for _, nr in tasks_of(client, run.id)), 30, "an item running")
    client.close(cancel_running=True, stop_engine=True)
    client = EngineProcess(data_dir)
    try:
        time.sleep(1)
        assert client.catalog.get_run(run.id).status is RunStatus.INTERRUPTED
        assert not [r for r in client.catalog.list_runs("careful", 10) if r.parent_run_id == run.id]
    finally:
        client.close(cancel_running=True, stop_engine=True)


def catalog_holder(catalog):
    """add_job's engine argument for a bare catalog."""
    return type("Holder", (), {"catalog": catalog})()


def _connect(data_dir):
    try:
        return EngineProcess(data_dir, start_timeout=1) if engine_files.read_address(data_dir) else None
    except Exception:  # noqa: BLE001 - no engine to reach (any way it fails): None
        return None


# ---- 4. restarts outlive the terminal ---------------------------------------------------------


def test_labdeck_run_follows_max_runtime_restarts_and_exits_with_the_final_outcome(data_dir, sshd_node, client):
    add_sshd_node(client, sshd_node, tags=["lab"])
    add_job(client,
            "name: hangs\ntargets: tag:lab\npolicy: {max_runtime_s: 1.5, max_restarts: 1, notify_on: [failed]}\n"
                    "steps: ['sleep 30']\n")
    notes = []
    client.bus.subscribe(lambda e: isinstance(e, Notification) and notes.append(e))
    proc = cli(data_dir, "run", "hangs")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "goes on as run" in err
    runs = sorted(client.catalog.list_runs("hangs", 10), key=lambda r: r.id)
    assert [r.status for r in runs] == [RunStatus.CANCELLED, RunStatus.FAILED]
    assert runs[1].restarts == 1 and "after 1 restart" in runs[1].note
    # the restart ran its full max runtime: the CLI's own end never cancelled it
    assert runs[1].finished_at - runs[1].started_at >= 1.5
    assert [n.kind for n in notes if n.run_id == runs[1].id].count("failed") == 1


def test_a_restart_goes_on_when_the_terminal_that_started_the_run_is_gone(data_dir, sshd_node, client):
    add_sshd_node(client, sshd_node, tags=["lab"])
    add_job(client,
            "name: hangs\ntargets: tag:lab\npolicy: {max_runtime_s: 1.5, max_restarts: 1}\nsteps: ['sleep 30']\n")
    proc = cli(data_dir, "run", "hangs")
    restart = wait_for(lambda: [r for r in client.catalog.list_runs("hangs", 10) if r.restarts == 1], 60,
                       "the restart")[0]
    proc.kill()  # the terminal goes away (before: its engine, and the restart with it, ended 1.6 s later)
    proc.wait(10)
    assert client.wait(restart.id, 60)
    final = client.catalog.get_run(restart.id)
    assert final.status is RunStatus.FAILED and "max runtime" in final.note and "after 1 restart" in final.note
    assert final.finished_at - final.started_at >= 1.5


# ---- 5. honest statuses ----------------------------------------------------------------------


def test_a_run_whose_only_non_success_is_a_cancelled_node_is_cancelled(client, sshd_nodes):
    quick, slow = sshd_nodes(2)
    for sshd in (quick, slow):
        add_sshd_node(client, sshd, tags=["lab"])
    add_job(client, "name: two\ntargets: tag:lab\npolicy: {notify_on: [failed]}\n"
                    f"steps: ['if [ \"$LABDECK_NODE\" = {slow.name} ]; then sleep 30; fi']\n")
    notes = []
    client.bus.subscribe(lambda e: isinstance(e, Notification) and notes.append(e))
    run = client.start_job("two")
    wait_for(lambda: any(nr.status is NodeRunStatus.SUCCEEDED for nr in client.catalog.node_runs(run.id)), 30,
             "the quick node to finish")
    client.cancel(run.id, slow.name)
    assert client.wait(run.id, 30)
    assert client.catalog.get_run(run.id).status is RunStatus.CANCELLED
    time.sleep(0.5)
    assert not [n for n in notes if n.run_id == run.id and n.kind == "failed"]


def test_an_item_on_a_node_never_probed_probes_it_first(data_dir):
    from labdeck.engine.seed import seed_first_start
    from labdeck.store import paths
    from labdeck.store.catalog import Catalog
    catalog = Catalog(paths.catalog_path(data_dir))
    seed_first_start(catalog)
    assert not catalog.get_node("this-computer").probe  # a fresh start: never probed
    add_job(catalog_holder(catalog), "name: local\ntargets: this-computer\narray: 4\nresources: {cpus: 1}\n"
                                     "steps: ['echo hi']\n")
    catalog.close()
    client = EngineProcess(data_dir)
    try:
        run = client.start_job("local")
        assert client.wait(run.id, 60)
        final = client.catalog.get_run(run.id)
        assert final.status is RunStatus.SUCCEEDED and final.note == "4 / 4 done"
    finally:
        client.close(cancel_running=True, stop_engine=True)


def test_an_item_whose_node_cannot_be_probed_says_why(data_dir, sshd_node):
    from labdeck.core.models import Node, Transport
    from labdeck.store import paths
    from labdeck.store.catalog import Catalog
    catalog = Catalog(paths.catalog_path(data_dir))  # a node no engine has seen yet, and that does not answer
    catalog.add_node(Node(name="silent", transport=Transport.SSH, host=sshd_node.host, port=sshd_node.port,
                          username=sshd_node.user, key_file=str(sshd_node.key_file), tags=["lab"]))
    add_job(catalog_holder(catalog), "name: big\ntargets: tag:lab\nresources: {cpus: 1}\narray: 1\nsteps: ['true']\n")
    catalog.close()
    sshd_node.stop()
    client = EngineProcess(data_dir)
    try:
        run = client.start_job("big")
        reason = wait_for(lambda: next((e["reason"] for e in run_queue.entries(client.catalog)
                                        if e["run_id"] == run.id and "probe failed" in e["reason"]), None), 30,
                          "the reason it waits")
        assert reason.startswith("silent's capacity is unknown and its probe failed (") and "waiting" in reason
        assert client.catalog.get_run(run.id).status is RunStatus.QUEUED
    finally:
        client.close(cancel_running=True, stop_engine=True)


# ---- 6. GPUs are devices ---------------------------------------------------------------------

FAKE_NVIDIA_SMI = """#!/bin/sh
# A stand-in for nvidia-smi (there is no GPU here): it reports two GPUs as the real one does.
case "$*" in
  *-L*) echo "GPU 0: NVIDIA Test A (UUID: GPU-aaaa)"; echo "GPU 1: NVIDIA Test B (UUID: GPU-bbbb)";;
  *query-gpu*) echo "0, NVIDIA Test A, 16384"; echo "1, NVIDIA Test B, 8192";;
esac
"""


def test_each_gpu_task_gets_its_own_devices_and_the_probe_reads_them(client, sshd_node, tmp_path):
    tools = tmp_path / "gpu-tools"
    tools.mkdir()
    (tools / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (tools / "nvidia-smi").chmod(0o755)
    sshd_node.extra_env["PATH"] = f"{tools}:/usr/local/bin:/usr/bin:/bin"
    sshd_node.stop()
    sshd_node.start()
    add_sshd_node(client, sshd_node, tags=["gpu"])
    probe = client.catalog.get_node(sshd_node.name).probe
    assert probe["gpus"] == 2
    assert probe["gpu_list"] == [{"index": 0, "name": "NVIDIA Test A", "memory_mb": 16384},
                                 {"index": 1, "name": "NVIDIA Test B", "memory_mb": 8192}]
    journal = tmp_path / "journal"
    add_job(client, "name: train\ntargets: tag:gpu\narray: 6\nslots_per_node: 3\nresources: {gpus: 1}\n"
                    f"steps: ['s=$(date +%s.%N); sleep 0.6; echo \"$LABDECK_ITEM $CUDA_VISIBLE_DEVICES "
                    f"$LABDECK_GPUS $s $(date +%s.%N)\" >> {journal}']\n")
    run = client.start_job("train")
    assert client.wait(run.id, 60)
    assert client.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    rows = [line.split() for line in journal.read_text().splitlines()]
    assert sorted(r[0] for r in rows) == [str(i) for i in range(6)]
    assert all(r[1] == r[2] and r[1] in ("0", "1") for r in rows)  # one device each, in both variables
    for device in ("0", "1"):  # a device is never shared: its tasks never overlap in time
        spans = sorted((float(r[3]), float(r[4])) for r in rows if r[1] == device)
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans)), spans


def test_a_run_moving_off_an_unreachable_node_never_moves_to_a_node_that_is_down(client, sshd_nodes):
    down, spare, first = sshd_nodes(3)  # the down node comes first in the catalog
    for sshd in (down, spare, first):
        add_sshd_node(client, sshd, tags=["lab"])
    add_job(client,
            "name: mover\ntargets: tag:lab\npolicy: {unreachable: move}\nsteps: ['echo ran on $LABDECK_NODE']\n")
    client.catalog.set_setting("probe_s", "1")
    down.stop()
    wait_for(lambda: client.node_down(down.name), 30, "the stopped node to be found down by a probe")
    first.stop()  # the run's own node does not answer either: it moves
    run = client.start_job("mover", targets=first.name)
    assert client.wait(run.id, 60)
    (nr,) = client.catalog.node_runs(run.id)
    assert nr.node_name == spare.name and nr.status is NodeRunStatus.SUCCEEDED, (nr.node_name, nr.message)


def test_relative_local_paths_of_put_and_get_are_the_terminals_not_the_engines(data_dir, sshd_node, client, tmp_path):
    add_sshd_node(client, sshd_node, tags=["lab"])  # the engine runs, started from another folder
    work = tmp_path / "work"
    work.mkdir()
    (work / "input.dat").write_bytes(b"x" * 1000)
    remote = tmp_path / "remote"
    put = cli(data_dir, "put", "input.dat", "--targets", sshd_node.name, "--to", str(remote), "--json", cwd=work)
    out, err = put.communicate(timeout=60)
    assert put.returncode == 0, err
    assert (remote / "input.dat").read_bytes() == b"x" * 1000
    get = cli(data_dir, "get", f"{remote}/input.dat", "--targets", sshd_node.name, "--to", "back", "--json", cwd=work)
    out, err = get.communicate(timeout=60)
    assert get.returncode == 0, err
    assert (work / "back" / sshd_node.name / "input.dat").read_bytes() == b"x" * 1000
