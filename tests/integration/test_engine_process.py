"""The desktop app's engine in a child process: calls, errors and events cross the process
boundary intact, and an engine process that dies is reported, never hung on."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from labdeck.core.errors import NotFound
from labdeck.core.events import NodeRunFinished, NodeRunOutput, Notification, RunFinished
from labdeck.core.status import RunStatus
from labdeck.engine.engine_process import EngineProcess, EngineProcessGone
from tests.conftest import add_sshd_node


@pytest.fixture
def engine_process(data_dir):
    proc = EngineProcess(data_dir)
    yield proc
    proc.close()


def test_a_run_in_the_engine_process_reports_its_events_in_order(engine_process):
    assert engine_process.pid != os.getpid()
    events, finished = [], threading.Event()

    def collect(event):
        events.append(event)
        if isinstance(event, RunFinished):
            finished.set()
    engine_process.bus.subscribe(collect)
    run = engine_process.start_job("hello", {"greeting": "from the child"})
    assert finished.wait(30)
    assert engine_process.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    text = "".join(e.text for e in events if isinstance(e, NodeRunOutput))
    assert "from the child" in text
    kinds = [type(e) for e in events]
    last_output = max(i for i, k in enumerate(kinds) if k is NodeRunOutput)
    assert last_output < kinds.index(NodeRunFinished) < kinds.index(RunFinished)


def test_errors_keep_their_type_and_message(engine_process):
    with pytest.raises(NotFound, match="no job named 'nope'"):
        engine_process.start_job("nope")


def test_nodes_and_scheduler_calls(engine_process, sshd_node):
    check = add_sshd_node(engine_process, sshd_node)
    assert engine_process.catalog.get_node(check.name).host == sshd_node.host
    assert engine_process.scheduler.running is False
    engine_process.start_scheduler()
    assert engine_process.scheduler.running is True
    run = engine_process.start_command("echo remote", sshd_node.name)
    assert engine_process.wait(run.id, 30)
    assert engine_process.catalog.get_run(run.id).status is RunStatus.SUCCEEDED


def test_an_engine_process_that_dies_is_reported(engine_process):
    told = threading.Event()
    engine_process.bus.subscribe(lambda e: isinstance(e, Notification) and "stopped" in e.text and told.set())
    os.kill(engine_process.pid, signal.SIGKILL)
    assert told.wait(10)
    with pytest.raises(EngineProcessGone, match="Restart LabDeck"):
        engine_process.start_job("hello")


def test_a_call_outside_the_engine_api_is_refused(engine_process):
    from labdeck.core.errors import LabDeckError
    with pytest.raises(LabDeckError, match="'catalog.remove_node' is not part of LabDeck's engine API"):
        engine_process.call("catalog.remove_node", "this-computer")
    assert engine_process.catalog.get_node("this-computer")
