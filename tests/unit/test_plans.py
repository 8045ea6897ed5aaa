"""Job plans without any node: the when: language, workflow validation, YAML job files with
workflows and arrays (and their mistakes), the catalog round trip and resource fitting."""

from __future__ import annotations

import pytest

from labdeck.core.conditions import evaluate
from labdeck.core.errors import InvalidInput
from labdeck.core.job_plan import Resources, layers
from labdeck.core.models import Capacity, Node
from labdeck.engine.placement import Ledger
from labdeck.store.catalog import Catalog
from labdeck.store.jobfile import job_from_yaml, job_to_yaml

RESULTS = {"A": {"exit_code": "0", "status": "succeeded", "outputs": {"x": "yes", "n": "10", "empty": ""}},
           "B": {"exit_code": "3", "status": "failed", "outputs": {}}}


def lookup(step, what, key):
    value = RESULTS[step][what]
    return value[key] if key is not None else value


@pytest.mark.parametrize("text, expected", [
    ("${steps.A.exit_code} == 0", True),
    ("${steps.B.exit_code} == 0", False),
    ("${steps.A.outputs.x} != 'no'", True),
    ("${steps.A.outputs.n} > 9", True),          # numbers compare as numbers...
    ("${steps.A.outputs.n} > '9'", True),
    ("${steps.A.outputs.x} > 9", True),          # ...text compares as text ("yes" > "9")
    ("${steps.B.status} == \"failed\" and not ${steps.A.outputs.empty}", True),
    ("(${steps.A.exit_code} == 1 or ${steps.B.exit_code} >= 3) and true", True),
    ("${steps.A.outputs.empty}", False),
])
def test_conditions(text, expected):
    assert evaluate(text, lookup) is expected


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "unknown word '__import__'"),
    ("'a'.join('x')", "cannot read it from '.join"),
    ("${steps.A.exit_code} ==", "ends too early"),
    ("${steps.A.bogus} == 1", "is not ${steps.NAME.exit_code}"),
    ("exit_code == 0", "unknown word 'exit_code'"),
    ("(1 == 1", "missing ')'"),
    ("1 == 1 2", "unexpected '2'"),
])
def test_bad_conditions_say_what_is_wrong(text, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        evaluate(text, lookup)


DIAMOND = """
name: d
targets: all
priority: 3
resources: {cpus: 2, memory_mb: 512, gpus: 1}
workflow:
  - {name: A, command: echo a}
  - {name: B, depends_on: [A], command: 'echo ${steps.A.outputs.x}'}
  - {name: C, depends_on: A, when: "${steps.A.exit_code} == 0", steps: [echo c1, {script: "echo c2", filename: c.sh}]}
  - {name: D, depends_on: [B, C], command: echo d, artifacts: [out.txt], inputs: [B]}
on_failure: {command: echo failed}
"""


def test_workflow_yaml_round_trips_through_export_and_the_catalog(tmp_path):
    job = job_from_yaml(DIAMOND)
    assert [s.name for s in job.plan.workflow] == ["A", "B", "C", "D"]
    assert layers(job.plan.workflow) == [["A"], ["B", "C"], ["D"]]
    assert job_from_yaml(job_to_yaml(job)).plan == job.plan
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add_job(job)
    assert catalog.get_job("d").plan == job.plan
    catalog.close()


@pytest.mark.parametrize("change, message", [
    ("  - {name: E, depends_on: [Z], command: x}", "depends on unknown step 'Z'"),
    ("  - {name: A, command: x}", "two steps are named 'A'"),
    ("  - {name: E, command: 'echo ${steps.B.outputs.y}'}", "uses step 'B', which is not one it depends on"),
    ("  - {name: E, depends_on: [F], command: x}\n  - {name: F, depends_on: [E], command: x}", "cycle: E -> F -> E"),
    ("  - {name: 'bad name', command: x}", "must be letters"),
    ("  - {name: E, command: x, when: 'exit == 0'}", "unknown word"),
    ("  - {name: E, command: x, placement: some}", "placement: must be one of each or any, got 'some'"),
    ("  - {name: E}", "exactly one of 'command', 'script' or 'steps'"),
])
def test_workflow_mistakes_are_clear(change, message):
    text = DIAMOND.replace("on_failure:", change + "\non_failure:")
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        job_from_yaml(text)


@pytest.mark.parametrize("text, message", [
    ("array: 5\nover: [a]", "use one of 'array', 'over' and 'over_file'"),
    ("array: 0", "array: must be a whole number >= 1, got 0"),
    ("array: 3\nslots_per_node: 0", "slots_per_node: must be a whole number >= 1, got 0"),
    ("slots_per_node: 2", "only applies to an array"),
    ("array: lots", "whole number"),
    ("over: []", "over: must not be empty"),
    ("resources: {disks: 1}", r"resources: unknown key 'disks' \(allowed: cpus, gpus, memory_mb\)"),
    ("array: 2\nworkflow: [{name: A, command: x}]", "has both 'steps' and 'workflow'"),
])
def test_array_and_resource_mistakes_are_clear(text, message):
    with pytest.raises(InvalidInput, match=message):
        job_from_yaml(f"name: j\ntargets: all\nsteps: [echo]\n{text}\n")


def test_a_plain_job_keeps_its_classic_plan():
    job = job_from_yaml("name: j\ntargets: all\nsteps: [echo hi]\n")
    assert job.plan.is_classic()
    assert "workflow" not in job_to_yaml(job) and "resources" not in job_to_yaml(job)


def test_ledger_places_by_free_capacity_and_explains_why_not(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    big = Node("big", capacity=Capacity(gpus=2), probe={"cpus": 8, "memory_mb": 16000})
    small = Node("small", capacity=Capacity(gpus=1), probe={"cpus": 4, "gpus": 0})
    unknown = Node("unknown")
    two = Resources(gpus=2)
    ledger = Ledger(catalog)
    assert ledger.place("t1", 1, [small, big], two).node is big
    waiting = ledger.place("t2", 1, [small, big], two)
    assert waiting.node is None and waiting.reason.startswith("needs 2 GPUs; none free")
    other = Ledger(catalog)  # another process sees what the first holds
    assert other.place("t3", 2, [big], Resources(gpus=1)).node is None
    ledger.release("t1")
    assert other.place("t3", 2, [big], Resources(gpus=1)).node is big
    assert ledger.never_fits([small], two) == "needs 2 GPUs; no target node has that (small has 1 GPU)"
    assert ledger.never_fits([unknown], two) == ("needs 2 GPUs; no target node has that (unknown has no known GPUs "
                                                 "(test the node, or set them: labdeck node capacity unknown))")
    assert ledger.never_fits([small], Resources(cpus=4)) is None
    busy = ledger.place("t4", 3, [big, small], Resources(cpus=1), excluded=lambda n: "no" if n == "big" else None)
    assert busy.node is small
    full = ledger.place("t5", 3, [big], Resources(cpus=1), excluded=lambda n: "kept for run 1")
    assert full.node is None and full.reason == "kept for run 1"
    catalog.close()
