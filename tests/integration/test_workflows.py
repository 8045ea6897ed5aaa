"""Workflows on real OpenSSH nodes: a diamond whose middle steps run at the same time and
whose last step sees both their outputs; conditions; an on-failure handler; artifacts
carried from one node to another."""

from __future__ import annotations

import uuid
from pathlib import Path

from labdeck.core.status import RunStatus
from tests.conftest import add_sshd_node
from tests.support.runs import run_yaml

DIAMOND = """
name: diamond
targets: tag:lab
workflow:
  - name: A
    placement: any
    command: echo "seed=42" >> "$LABDECK_OUTPUT"
  - name: B
    depends_on: [A]
    targets: {b}
    command: sleep 1; echo "b=from-b-${{steps.A.outputs.seed}}" >> "$LABDECK_OUTPUT"
  - name: C
    depends_on: [A]
    targets: {c}
    command: sleep 1; echo "c=from-c" >> "$LABDECK_OUTPUT"
  - name: D
    depends_on: [B, C]
    placement: any
    command: echo "D saw" ${{steps.B.outputs.b}} ${{steps.C.outputs.c}}
"""


def test_diamond_runs_b_and_c_together_and_d_sees_both_outputs(engine, sshd_nodes):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    run, tasks = run_yaml(engine, DIAMOND.format(b=nodes[0].name, c=nodes[1].name))
    assert run.status is RunStatus.SUCCEEDED, run.note
    assert set(tasks) == {"A", "B", "C", "D"}
    (_, a), (_, b), (_, c), (_, d) = (tasks[k] for k in "ABCD")
    assert b["started_at"] < c["finished_at"] and c["started_at"] < b["finished_at"]  # B and C overlapped
    assert a["finished_at"] <= min(b["started_at"], c["started_at"])
    assert d["started_at"] >= max(b["finished_at"], c["finished_at"])
    assert "D saw from-b-42 from-c" in Path(d["log_path"]).read_text()


def test_when_skips_a_step_and_on_failure_runs_after_a_failed_step(engine, sshd_node):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    run, tasks = run_yaml(engine, """
name: guarded
targets: tag:lab
workflow:
  - name: check
    command: echo "verdict=no" >> "$LABDECK_OUTPUT"
  - name: publish
    depends_on: [check]
    when: ${steps.check.outputs.verdict} != 'no'
    command: echo published
  - name: train
    depends_on: [check]
    when: ${steps.check.exit_code} == 0 and ${steps.check.outputs.verdict} == 'no'
    command: echo training; exit 3
  - name: after
    depends_on: [train]
    command: echo never
on_failure:
  command: echo "handler sees $LABDECK_FAILED_STEPS exit" ${steps.train.exit_code}
""")
    assert run.status is RunStatus.FAILED
    assert "publish" not in tasks and "after" not in tasks  # skipped: never ran
    assert tasks["train"][1]["exit_code"] == 3
    assert "handler sees train exit 3" in Path(tasks["on_failure"][1]["log_path"]).read_text()
    assert "train" in run.note


def test_artifact_made_on_one_node_reaches_a_later_step_on_another(engine, sshd_nodes):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    name = f"wf-artifact-{uuid.uuid4().hex[:8]}.txt"
    run, tasks = run_yaml(engine, f"""
name: carry
targets: tag:lab
workflow:
  - name: make
    targets: {nodes[0].name}
    command: echo "made on $LABDECK_NODE" > {name}
    artifacts: [{name}]
  - name: use
    depends_on: [make]
    inputs: [make]
    targets: {nodes[1].name}
    command: rm {name}; cat "$LABDECK_INPUTS/make/{name}"
  - name: lost
    depends_on: [use]
    targets: {nodes[1].name}
    command: "true"
    artifacts: [no-such-{name}]
""")
    assert tasks["use"][1]["node_name"] == nodes[1].name
    assert f"made on {nodes[0].name}" in Path(tasks["use"][1]["log_path"]).read_text()
    assert run.status is RunStatus.FAILED
    assert f"no-such-{name}" in run.note and "not found" in run.note


def test_a_workflow_longer_than_its_max_runtime_is_cancelled_and_reported_failed(engine, sshd_node):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    run, tasks = run_yaml(engine, """
name: overlong
targets: tag:lab
policy: {max_runtime_s: 1.5}
workflow:
  - {name: quick, command: "true"}
  - {name: stuck, depends_on: [quick], command: sleep 30}
  - {name: never, depends_on: [stuck], command: "true"}
""", timeout=20)
    assert run.status is RunStatus.FAILED
    assert "ran longer than its max runtime of 1.5 s" in run.note
    assert tasks["stuck"][1]["status"] == "cancelled" and "never" not in tasks
    assert run.finished_at - run.started_at < 10
