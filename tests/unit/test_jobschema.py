"""The job file schema: every key and value is checked where a job enters, and a mistake is one
line that names the field (and, for a typo, the key that was meant)."""

from __future__ import annotations

import re

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Job, JobPolicy, Step
from labdeck.store.catalog import Catalog
from labdeck.store.jobfile import job_from_yaml

BASE = "name: gen\ntargets: all\nsteps: [echo hi]\n"


@pytest.mark.parametrize("extra, message", [
    # the cases of issue 17, each accepted silently or crashing a run before
    ("target: gpu1", "gen.yaml: job 'gen': unknown key 'target' (did you mean 'targets'?)"),
    ("policy: {retries: abc}", "gen.yaml: job 'gen': policy.retries: must be a whole number, got 'abc'"),
    ("policy: {timeout_s: -5}", "gen.yaml: job 'gen': policy.timeout_s: must be a number >= 0, got -5"),
    ("policy: {max_parallel: -3}", "gen.yaml: job 'gen': policy.max_parallel: must be a whole number >= 0, got -3"),
    ("resources: {cpus: nan}", "gen.yaml: job 'gen': resources.cpus: must be a number, got 'nan'"),
    ("resources: {cpus: .nan}", "gen.yaml: job 'gen': resources.cpus: must be a finite number, got nan"),
    ("options: 5", "gen.yaml: job 'gen': options: must be a list (e.g. [a, b]), got 5"),
    ("policy: {notify_on: failed}",
     "gen.yaml: job 'gen': policy.notify_on: must be a list (e.g. [a, b]), got 'failed'"),
    ("array: 100000000", "gen.yaml: job 'gen': array: must be a whole number <= 100000, got 100000000"),
    # and their neighbours
    ("policy: {timeoutt: 3}", "gen.yaml: job 'gen': policy: unknown key 'timeoutt' (did you mean 'timeout_s'?)"),
    ("policy: {overlap: sometimes}", "gen.yaml: job 'gen': policy.overlap: must be one of skip, queue or parallel, "
                                     "got 'sometimes'"),
    ("policy: {timeout_s: .inf}", "gen.yaml: job 'gen': policy.timeout_s: must be a finite number, got inf"),
    ("policy: {retry_delay_s: [1]}", "gen.yaml: job 'gen': policy.retry_delay_s: must be a number, got a list of 1"),
    ("options: [{name: n, required: maybe}]", "gen.yaml: job 'gen': options[0].required: must be true or false, "
                                              "got 'maybe'"),
    ("priority: 1.5", "gen.yaml: job 'gen': priority: must be a whole number, got 1.5"),
    ("options: [{name: 'a b'}]", "gen.yaml: job 'gen': options[0].name: 'a b' is not valid: use letters, digits, "
                                 "'_', '-' or '.', starting with a letter"),
    ("policy: {notify_webhooks: ['ftp://x']}", "gen.yaml: job 'gen': policy.notify_webhooks[0]: must be an http:// "
                                               "or https:// address, got 'ftp://x'"),
    ("on_failure: {command: '  '}",
     "gen.yaml: job 'gen': on_failure.command: is empty: write the command or script it runs"),
    ("xyzzy: 1", "gen.yaml: job 'gen': unknown key 'xyzzy' (allowed: array, description, name, on_failure, options, "
                 "over, over_file, placement, policy, priority, project, resources, resume, slots_per_node, steps, "
                 "targets, workflow)"),
])
def test_a_bad_field_is_one_line_naming_its_path(extra, message):
    with pytest.raises(InvalidInput) as caught:
        job_from_yaml(BASE + extra + "\n", source="gen.yaml")
    assert str(caught.value) == message


def test_step_fields_are_checked_and_named_by_their_index():
    with pytest.raises(InvalidInput, match=re.escape("steps[1]: unknown key 'comand' (did you mean 'command'?)")):
        job_from_yaml("name: gen\nsteps: [echo, {comand: x}]\n")
    with pytest.raises(InvalidInput,
                       match=re.escape("workflow[0]: unknown key 'depends' (did you mean 'depends_on'?)")):
        job_from_yaml("name: gen\nworkflow: [{name: a, command: x, depends: b}]\n")
    with pytest.raises(InvalidInput, match=re.escape("steps[0].command: must be text, got a list of 1")):
        job_from_yaml("name: gen\nsteps: [{command: [x]}]\n")


def test_several_problems_name_the_first_in_the_file_and_count_the_rest():
    with pytest.raises(InvalidInput) as caught:
        job_from_yaml(BASE + "policy: {retries: abc, timeout_s: -1, max_parallel: x}\n")
    assert str(caught.value).endswith("policy.retries: must be a whole number, got 'abc' (and 2 more problems)")


def test_good_values_are_typed_as_the_job_expects():
    job = job_from_yaml(BASE + "options: [{name: n, default: 3}]\npolicy: {timeout_s: 30, retries: 2, "
                               "notify_on: [failed, exceeded]}\nresources: {cpus: 1.5}\n")
    assert job.options[0].default == "3" and job.policy.timeout_s == 30 and job.policy.retries == 2
    assert job.policy.notify_on == ["failed", "exceeded"] and job.plan.resources.cpus == 1.5


def test_the_catalog_refuses_a_job_built_in_code_with_a_bad_value(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        bad = Job(name="gen", steps=[Step(command="true")], policy=JobPolicy(retries=-1, max_parallel=-3))
        with pytest.raises(InvalidInput, match=re.escape("job 'gen': policy.retries: must be a whole number >= 0")):
            catalog.add_job(bad)
        assert catalog.list_jobs() == []
    finally:
        catalog.close()


# ---- the YAML itself: size, depth and alias expansion are bounded ---------------------------

def _laughs(levels: int) -> str:
    """The "billion laughs" under 'over' (a known key, so it is not refused as an unknown key):
    each item a list of nine aliases of the item before; 9 levels expand to 9**10 strings."""
    items = "".join(f"  - &l{i} [" + ", ".join(["lol"] * 9 if i == 0 else [f"*l{i - 1}"] * 9) + "]\n"
                    for i in range(levels + 1))
    return "name: bomb\ntargets: all\nsteps: [echo]\nover:\n" + items


@pytest.mark.parametrize("levels", [7, 9])
def test_a_billion_laughs_is_refused_fast(levels):
    import time
    started = time.process_time()
    with pytest.raises(InvalidInput, match=r"bomb.yaml: its aliases expand to more than 1,000,000 items"):
        job_from_yaml(_laughs(levels), source="bomb.yaml")
    assert time.process_time() - started < 2.0  # a generous bound: the expansion is never built


def test_deep_nesting_is_refused_with_a_line_not_a_recursion_error():
    text = "name: deep\nsteps: [echo]\nover: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(InvalidInput, match=r"deep.yaml nests lists or mappings more than 64 levels deep"):
        job_from_yaml(text, source="deep.yaml")


def test_an_alias_that_contains_itself_is_refused():
    with pytest.raises(InvalidInput, match="an alias refers to a list or mapping that contains it"):
        job_from_yaml("name: loop\nsteps: [echo]\nover: &a [1, *a]\n")


def test_a_huge_file_is_refused_before_it_is_parsed():
    with pytest.raises(InvalidInput, match=r"big.yaml is 9.0 MB; a job file may be at most 8 MB"):
        job_from_yaml("name: big\nsteps: [echo]\ndescription: " + "x" * (9 * 1024 * 1024) + "\n", source="big.yaml")


def test_plain_anchors_and_aliases_still_work():
    job = job_from_yaml("name: twice\ntargets: all\nsteps: [&hi {command: echo hi}, *hi]\n")
    assert [s.command for s in job.steps] == ["echo hi", "echo hi"]


def test_project_and_option_choices_are_part_of_the_format(tmp_path):
    from labdeck.store.jobfile import job_from_yaml, job_to_yaml
    text = ("name: gen\nproject: ml/training\ntargets: all\nsteps: [echo hi]\n"
            "options: [{name: split, default: train, choices: [train, test]}]\n")
    job = job_from_yaml(text, "gen.yaml")
    assert job.project == "ml/training" and job.options[0].choices == ["train", "test"]
    assert job_from_yaml(job_to_yaml(job), "again.yaml") == job
    with pytest.raises(InvalidInput, match=r"project: .*not a valid name"):
        job_from_yaml(text.replace("ml/training", "'!!'"), "gen.yaml")
    with pytest.raises(InvalidInput, match=r"options\[0\].choices"):
        job_from_yaml(text.replace("[train, test]", "[]"), "gen.yaml")


def test_a_key_given_twice_is_refused_not_overwritten():
    with pytest.raises(InvalidInput) as caught:
        job_from_yaml("name: gen\ntargets: gpu1\nsteps: [echo]\ntargets: all\n", source="gen.yaml")
    assert str(caught.value) == "gen.yaml: the key 'targets' appears twice (lines 2 and 4); keep one"
    merged = job_from_yaml("name: gen\nsteps:\n- &base {command: echo a, name: first}\n- {<<: *base, name: second}\n")
    assert [(s.name, s.command) for s in merged.steps] == [("first", "echo a"), ("second", "echo a")]
