"""What a Windows node must do, written once and run twice: here against the WS-Management
test server, and in the GitHub Actions job on windows-latest (.github/workflows/windows-winrm.yml)
against the runner's own WinRM service with real cmd.exe and PowerShell, over Basic and NTLM
(the ``windows_node`` fixture, tests/support/winrm_node.py): a command and its output, output
streamed while it runs, a timeout and a cancel that kill the whole tree (checked on the node),
a detached run re-attached by a new LabDeck process, a file up and down with its SHA-256, a
PowerShell error shown as text, and a non-ASCII line."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import KillState, NodeRunStatus
from labdeck.engine.engine import Engine
from labdeck.executors.transfer_base import TransferError
from tests.support.winrm_node import marker

# kept here, not imported from the Linux-only test modules: this file also runs on Windows
DETACHED = JobPolicy(launch="detached")


def run_job(engine, job: Job, options=None, timeout=60):
    engine.catalog.add_job(job, replace=True)
    run = engine.start_job(job.name, options or {})
    assert engine.wait(run.id, timeout), "run did not finish in time"
    return engine.catalog.get_run(run.id), {nr.node_name: nr for nr in engine.catalog.node_runs(run.id)}


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def log_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def test_a_command_runs_and_its_output_and_exit_code_come_back(engine, windows_node):
    windows_node.add_to(engine)
    job = Job(name="hello", targets="win1", steps=[Step(command="echo hello from %LABDECK_NODE%& exit 3")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3, nr.message
    assert "hello from win1" in Path(nr.log_path).read_text(encoding="utf-8")


def test_output_is_streamed_while_the_command_runs(engine, windows_node):
    windows_node.add_to(engine)
    engine.catalog.add_job(Job(name="slow", targets="win1", steps=[Step(command=windows_node.slow_lines())]))
    run = engine.start_job("slow")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: "first-line" in log_text(nr.log_path), 30)
    assert "last-line" not in log_text(nr.log_path)
    assert engine.wait(run.id, 60)
    assert "last-line" in log_text(nr.log_path)


def test_a_timeout_kills_the_whole_tree_on_the_node(engine, windows_node):
    windows_node.add_to(engine)
    tag = marker()
    job = Job(name="t", targets="win1", steps=[Step(command=windows_node.long_command(120, tag))],
              policy=JobPolicy(timeout_s=5))
    _run, node_runs = run_job(engine, job, timeout=90)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.TIMED_OUT and nr.kill_state is KillState.KILLED, nr.message
    assert windows_node.processes_with(tag) == []


def test_a_cancel_kills_the_whole_tree_on_the_node(engine, windows_node):
    windows_node.add_to(engine)
    tag = marker()
    engine.catalog.add_job(Job(name="c", targets="win1", steps=[Step(command=windows_node.long_command(120, tag))]))
    run = engine.start_job("c")
    nr = engine.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: "up" in log_text(nr.log_path), 30)
    assert wait_for(lambda: windows_node.processes_with(tag) != [], 30)
    engine.cancel(run.id)
    assert engine.wait(run.id, 60)
    nr = engine.catalog.node_runs(run.id)[0]
    assert nr.status is NodeRunStatus.CANCELLED and nr.kill_state is KillState.KILLED
    assert windows_node.processes_with(tag) == []


def test_a_detached_run_is_re_attached_by_a_new_labdeck(data_dir, windows_node):
    first = Engine(data_dir)
    windows_node.add_to(first)
    first.catalog.add_job(Job(name="d", targets="win1", policy=DETACHED,
                              steps=[Step(command=windows_node.slow_lines()), Step(command="echo second-step")]))
    run = first.start_job("d")
    nr = first.catalog.node_runs(run.id)[0]
    assert wait_for(lambda: "first-line" in log_text(nr.log_path), 60)
    first.close()  # quitting LabDeck: the detached run goes on on the node
    second = Engine(data_dir)
    try:
        assert second.adopt_detached() == [run.id]
        assert second.wait(run.id, 90)
        nr = second.catalog.get_node_run(nr.id)
        assert nr.status is NodeRunStatus.SUCCEEDED and "re-attached" in nr.message, nr.message
        text = log_text(nr.log_path)
        assert "last-line" in text and "second-step" in text
    finally:
        second.close()


def test_a_file_goes_up_and_comes_back_with_the_same_sha256(engine, windows_node, tmp_path):
    windows_node.add_to(engine)
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    backend = engine.transfers.browser("win1")
    remote = f"labdeck-test/{marker()}/data.bin"
    try:
        up = backend.upload_file(source, remote, lambda n: None, threading.Event())
        assert up.sha256 == digest and backend.sha256(remote) == digest
        entry = backend.stat(remote)
        back = tmp_path / "back.bin"
        down = backend.download_file(entry, back, lambda n: None, threading.Event())
        assert down.sha256 == digest and hashlib.sha256(back.read_bytes()).hexdigest() == digest
        backend.remove(remote.rsplit("/", 1)[0])
    finally:
        backend.close()


def test_a_powershell_error_reaches_the_log_as_text(engine, windows_node):
    windows_node.add_to(engine, shell="powershell")
    job = Job(name="pserr", targets="win1", steps=[Step(command=windows_node.powershell_error("labdeck-boom"))])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED
    text = Path(nr.log_path).read_text(encoding="utf-8")
    assert "labdeck-boom" in text
    assert "CLIXML" not in text and "<Objs" not in text and "_x000D_" not in text


def test_a_failed_upload_says_why_in_words(engine, windows_node, tmp_path):
    windows_node.add_to(engine)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    folder = f"labdeck-test/{marker()}"
    backend = engine.transfers.browser("win1")
    try:
        backend.upload_file(blocker, f"{folder}/blocker", lambda n: None, threading.Event())
        with pytest.raises(TransferError) as info:
            backend.upload_file(blocker, f"{folder}/blocker/x.bin", lambda n: None, threading.Event())
        message = str(info.value)
        assert "blocker/x.bin" in message and "CreateDirectory" in message, message
        assert "CLIXML" not in message and "<Objs" not in message
        backend.remove(folder)
    finally:
        backend.close()


def test_a_non_ascii_line_arrives_intact(engine, windows_node):
    windows_node.add_to(engine)
    _run, node_runs = run_job(engine, Job(name="u", targets="win1", steps=[Step(command="echo caf\u00e9 \u4e2d\u6587 \u00fc")]))
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert "caf\u00e9 \u4e2d\u6587 \u00fc" in Path(nr.log_path).read_text(encoding="utf-8")

