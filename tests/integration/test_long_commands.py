"""A 300 KB command (far past one SSH exec request and Linux's 128 KiB per argument) travels as a
script file and runs, on a real sshd node and on this computer: never 'unreachable'."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import Job, Step
from labdeck.core.status import NodeRunStatus
from tests.conftest import add_sshd_node


@pytest.mark.parametrize("where", ["ssh", "local"])
def test_a_300_kb_command_runs_as_a_script_file(engine, sshd_node, where):
    target = "this-computer"
    if where == "ssh":
        add_sshd_node(engine, sshd_node)
        target = sshd_node.name
    command = ": " + "x" * 300_000 + "; echo \"long command ran on $LABDECK_NODE\""
    engine.catalog.add_job(Job(name="long", targets=target, steps=[Step(command=command)]))
    run = engine.start_job("long")
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    text = Path(nr.log_path).read_text()
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert f"long command ran on {target}\n" in text
