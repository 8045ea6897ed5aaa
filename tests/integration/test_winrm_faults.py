"""WinRM faults as Windows sends them, through the WS-Management test server: the operation
timeout (w:TimedOut, 2150858793) on any operation, and a shell that is gone (2150858843, the
useful text in f:Message). No shell may be left open on the node (each holds one of its
MaxShellsPerUser until its IdleTimeout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import Job, Step
from labdeck.core.status import NodeRunStatus
from labdeck.executors.winrm.transfer import HelperCall
from tests.conftest import add_winrm_node
from tests.support.runs import run_job
from tests.support.waiting import wait_for

TIMEOUT_TEXT = "did not answer within its OperationTimeout"


@pytest.fixture(autouse=True)
def no_background_probes(engine):
    """The faults are injected for the next N operations of a kind: the engine's node-health
    watcher probing win1 meanwhile (it does at first sight) would take one of them."""
    engine.health.close()


@pytest.mark.parametrize("operation, doing", [("create", "opening a shell"), ("command", "starting a command"),
                                              ("send", "sending input")])
def test_an_operation_timed_out_makes_the_node_unreachable_and_leaks_no_shell(engine, wsman_server, operation, doing):
    # a PowerShell 2.0 node: each step's stdin is closed with a Send (the Send that times out)
    wsman_server.powershell_v2 = operation == "send"
    add_winrm_node(engine, wsman_server)  # the node test leaves one shell in the pool
    if operation == "create":
        engine.pool.forget("win1")
    wsman_server.time_out[operation] = 1
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.UNREACHABLE, nr.message
    assert TIMEOUT_TEXT in nr.message and doing in nr.message
    engine.pool.forget("win1")  # deletes the shells it keeps; one dropped without a Delete stays
    assert wsman_server.open_shells == 0


def test_the_next_run_after_a_timed_out_command_succeeds(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    wsman_server.time_out["command"] = 1
    run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    _run, node_runs = run_job(engine, Job(name="y", targets="win1", steps=[Step(command="echo again")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "again" in Path(node_runs["win1"].log_path).read_text()


def test_a_timed_out_delete_is_tried_again(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    assert wsman_server.open_shells == 1
    wsman_server.time_out["delete"] = 1
    engine.pool.forget("win1")
    assert wsman_server.open_shells == 0


def test_a_timed_out_signal_is_tried_again(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    executor = engine.pool.get(engine.catalog.get_node("win1"))
    executor.pool.releaser.flush()
    wsman_server.signals.clear()
    wsman_server.time_out["signal"] = 1
    with HelperCall(executor, "sleep 30", "waiting") as call:
        pass  # left before the end: the command is terminated with a Signal
    assert (call.command_id, "terminate", False) in wsman_server.signals
    engine.pool.forget("win1")
    assert wsman_server.open_shells == 0


def test_a_shell_gone_mid_step_says_the_steps_processes_went_with_it(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    engine.catalog.add_job(Job(name="gone", targets="win1", steps=[Step(command="echo started; sleep 30")]))
    run = engine.start_job("gone")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: Path(nr.log_path).exists() and "started" in Path(nr.log_path).read_text())
    wsman_server.expire_shells()  # as after the node's IdleTimeout, or a restart of its WinRM service
    assert engine.wait(run.id, 30)
    nr = engine.catalog.node_runs(run.id)[0]
    assert nr.status is NodeRunStatus.ERROR
    assert "the shell was not found on the server" in nr.message  # f:Message, not the generic s:Reason
    assert "WS-Management error 2150858843" in nr.message
    assert "the step's processes ended with it" in nr.message and "may still be running" not in nr.message


def test_labdeck_never_signals_a_command_the_node_no_longer_has(engine, wsman_server):
    """Windows answers a Signal for an unknown CommandId with a fault (the test server too): a
    finished, a timed-out and a cancelled step each get exactly one terminate Signal."""
    from labdeck.core.models import JobPolicy

    add_winrm_node(engine, wsman_server)
    run_job(engine, Job(name="ok", targets="win1", steps=[Step(command="echo one"), Step(command="echo two")]))
    run_job(engine, Job(name="slow", targets="win1", steps=[Step(command="sleep 30")], policy=JobPolicy(timeout_s=1)))
    engine.pool.get(engine.catalog.get_node("win1")).pool.releaser.flush()
    signals = [e for e in wsman_server.exchanges if e.action == "signal"]
    assert signals and all(e.status == 200 for e in signals), signals
    ids = [command_id for command_id, code, _ended in wsman_server.signals if code == "terminate"]
    assert len(ids) == len(set(ids))
