"""``labdeck schedule`` and ``labdeck daemon`` as a user runs them; node-moving rules on real sshd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import NodeRunStatus, RunStatus
from tests.conftest import add_sshd_node
from tests.support.cli import LABDECK, labdeck


@pytest.mark.slow
def test_schedule_commands_and_clear_errors(data_dir):
    bad = labdeck(data_dir, "schedule", "add", "hello", "--cron", "0 25 * * *")
    assert bad.returncode == 2 and "cron field 'hour' has '25': allowed 0-23" in bad.stderr
    bad = labdeck(data_dir, "schedule", "add", "hello", "--cron", "0 2 * * *", "--tz", "Europe/Berln")
    assert "did you mean Europe/Berlin?" in bad.stderr
    ok = labdeck(data_dir, "schedule", "add", "hello", "--cron", "30 2 * * *", "--tz", "Europe/Berlin")
    assert ok.returncode == 0 and "added schedule 1" in ok.stdout
    assert labdeck(data_dir, "schedule", "add", "hello", "--every", "90m", "--disabled").returncode == 0
    listed = json.loads(labdeck(data_dir, "schedule", "list", "--json", "--next", "2").stdout)
    first, second = listed["schedules"]
    assert first["tz"] == "Europe/Berlin" and len(first["next"]) == 2 and first["next"][0]["at"].endswith(("+01:00",
                                                                                                           "+02:00"))
    assert second["enabled"] is False and second["next"] == []
    assert labdeck(data_dir, "schedule", "pause").returncode == 0
    assert json.loads(labdeck(data_dir, "schedule", "list", "--json").stdout)["paused"] is True
    assert labdeck(data_dir, "schedule", "resume", "2").returncode == 0
    assert labdeck(data_dir, "schedule", "remove", "1").returncode == 0
    assert "no schedule with id 1" in labdeck(data_dir, "schedule", "remove", "1").stderr
    added = labdeck(data_dir, "job", "add", "j", "--command", "true", "--targets", "all", "--overlap", "queue",
                    "--max-runtime", "2h", "--max-restarts", "3", "--notify-on", "failed,exceeded")
    assert added.returncode == 0, added.stderr
    shown = labdeck(data_dir, "job", "show", "j").stdout
    assert "overlap: queue" in shown and "max_runtime_s: 7200.0" in shown and "max_restarts: 3" in shown
    assert "allowed failed, succeeded" in labdeck(data_dir, "policy", "j", "--notify-on", "sometimes").stderr


def test_daemon_runs_schedules_and_sigterm_leaves_nothing_running(data_dir):
    assert labdeck(data_dir, "job", "add", "slow", "--command", "sleep 60", "--targets",
                   "this-computer").returncode == 0
    assert labdeck(data_dir, "schedule", "add", "slow", "--every", "1s").returncode == 0
    daemon = subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), "daemon"], stderr=subprocess.PIPE, text=True,
                              env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        deadline, said = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            said.append(daemon.stderr.readline())
            if "started on this-computer" in said[-1]:
                break
        else:
            raise AssertionError(f"no scheduled run started; the daemon said: {''.join(said)[-2000:]!r}")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    runs = json.loads(labdeck(data_dir, "runs", "--json", "--job", "slow").stdout)
    assert runs and all(r["status"] != "running" for r in runs)
    assert any(r["status"] == "cancelled" and r["trigger"] == "schedule" for r in runs)


def test_unreachable_node_moves_to_another_matching_node(engine, sshd_nodes):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    nodes[0].stop()
    engine.catalog.add_job(Job(name="mover", targets="tag:lab", steps=[Step(command="echo on $LABDECK_NODE")],
                               policy=JobPolicy(unreachable="move", max_parallel=1)))
    run = engine.start_job("mover", targets=nodes[0].name + ",tag:lab")
    assert engine.wait(run.id, 60)
    statuses = [(nr.node_name, nr.status) for nr in engine.catalog.node_runs(run.id)]
    assert all(s is NodeRunStatus.SUCCEEDED for _, s in statuses), statuses


def test_failed_node_run_is_retried_on_another_node(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    engine.catalog.add_job(Job(name="picky", targets="tag:lab",
                               steps=[Step(command=f'test "$LABDECK_NODE" = {nodes[1].name}')],
                               policy=JobPolicy(retries=1, retry_on="other")))
    run = engine.start_job("picky", targets=nodes[0].name)
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    assert nr.node_name == nodes[1].name and nr.status is NodeRunStatus.SUCCEEDED and nr.attempt == 2
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    assert f"moving from node {nodes[0].name} to node {nodes[1].name}" in open(nr.log_path).read()


def test_unreachable_node_is_waited_for_and_the_run_goes_on_when_it_returns(engine, sshd_node):
    import threading
    import time
    add_sshd_node(engine, sshd_node)
    sshd_node.stop()
    engine.catalog.add_job(Job(name="patient", targets=sshd_node.name,
                               steps=[Step(command="echo back on $LABDECK_NODE")],
                               policy=JobPolicy(unreachable="wait", unreachable_wait_s=30)))
    restart = threading.Timer(3.0, sshd_node.start)
    restart.start()
    started = time.monotonic()
    run = engine.start_job("patient")
    assert engine.wait(run.id, 60)
    restart.join()
    (nr,) = engine.catalog.node_runs(run.id)
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert 3.0 <= time.monotonic() - started < 20
    log = open(nr.log_path).read()
    assert f"node {sshd_node.name} is unreachable; waiting up to 30 s" in log and f"back on {sshd_node.name}" in log


def test_a_node_that_stays_away_past_the_wait_is_reported_unreachable(engine, sshd_node):
    import time
    add_sshd_node(engine, sshd_node)
    sshd_node.stop()
    engine.catalog.add_job(Job(name="gives-up", targets=sshd_node.name, steps=[Step(command="true")],
                               policy=JobPolicy(unreachable="wait", unreachable_wait_s=3)))
    started = time.monotonic()
    run = engine.start_job("gives-up")
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    assert nr.status is NodeRunStatus.UNREACHABLE
    assert 3.0 <= time.monotonic() - started < 15
