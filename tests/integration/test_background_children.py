"""A step that leaves a background child holding its output (``./server & echo started``): the
step ends with its shell's exit code a short grace after the shell exits -- not at the job's
deadline -- and the child is killed, or left running when the job says so."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import NodeRunStatus
from tests.conftest import add_sshd_node
from tests.integration.test_escaped_processes import processes_matching


@pytest.mark.parametrize("where", ["ssh", "local"])
@pytest.mark.parametrize("background", ["kill", "keep"])
def test_a_background_child_holding_the_output_does_not_hold_the_step(engine, sshd_node, where, background):
    target = "this-computer"
    if where == "ssh":
        add_sshd_node(engine, sshd_node)
        target = sshd_node.name
    marker = f"server-{uuid.uuid4().hex[:8]}"
    command = f"sh -c 'sleep 300; : {marker}' & echo started; exit 7"
    engine.catalog.add_job(Job(name="bg", targets=target, steps=[Step(command=command)],
                               policy=JobPolicy(timeout_s=60, launch="attached", background=background)))
    started = time.monotonic()
    run = engine.start_job("bg")
    try:
        assert engine.wait(run.id, 30), "the step waited for its background child"
        assert time.monotonic() - started < 15
        (nr,) = engine.catalog.node_runs(run.id)
        text = Path(nr.log_path).read_text()
        assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 7, nr.message
        assert "started\n" in text and "still held its output" in text
        if background == "kill":
            assert processes_matching(marker) == []
            assert "they were killed" in text
        else:
            assert processes_matching(marker), "the job said keep"
            assert "left running" in text
    finally:
        subprocess.run(["pkill", "-f", marker])
