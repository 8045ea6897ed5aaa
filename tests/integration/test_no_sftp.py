"""A real sshd configured without the sftp Subsystem: script steps still run (uploaded through an
exec channel), and file transfers fail with one clear line saying what the node lacks -- not
'cannot open SFTP (Channel closed.) - retry to resume'."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import Job, Step, StepKind
from labdeck.core.status import NodeRunStatus
from labdeck.core.transfers import Direction
from labdeck.engine.transfers import TransferRequest
from tests.conftest import add_sshd_node


@pytest.fixture
def no_sftp_node(sshd_node):
    sshd_node.sftp = False
    sshd_node.stop()
    sshd_node.start()
    yield sshd_node
    sshd_node.sftp = True


def test_a_script_step_runs_on_a_node_without_sftp(engine, no_sftp_node):
    add_sshd_node(engine, no_sftp_node)
    engine.catalog.add_job(Job(name="s", targets=no_sftp_node.name, steps=[
        Step(kind=StepKind.SCRIPT, script="#!/bin/sh\necho script ran without sftp\n", filename="job.sh")]))
    run = engine.start_job("s")
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert "script ran without sftp\n" in Path(nr.log_path).read_text()


def test_put_to_a_node_without_sftp_says_so(engine, no_sftp_node, tmp_path):
    add_sshd_node(engine, no_sftp_node)
    source = tmp_path / "in.txt"
    source.write_text("data")
    transfer = engine.transfers.start(TransferRequest(Direction.PUT, [str(source)], str(tmp_path / "remote"),
                                                      no_sftp_node.name))
    assert engine.transfers.wait(transfer.id, 60)
    result = transfer.results[no_sftp_node.name]
    assert not result.ok
    assert "the node's sshd has no SFTP subsystem" in result.error, result.error
    assert "retry" not in result.error and not result.unreachable
