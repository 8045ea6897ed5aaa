"""Rundeck job exports to LabDeck jobs: realistic YAML and XML files written from Rundeck's
format references (tests/data/rundeck: comments, odd spacing, unicode, CRLF and a BOM), the
report of what converts and what does not, Quartz schedules, and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.models import StepKind
from labdeck.importers import InventoryError
from labdeck.importers.quartz import QuartzNotExact, quartz_to_cron
from labdeck.importers.rundeck import Overrides, parse_rundeck

DATA = Path(__file__).resolve().parents[1] / "data" / "rundeck"


def by_name(conversions):
    return {c.name: c for c in conversions}


def test_yaml_export_converts_steps_options_targets_policy_and_schedule():
    assert b"\r\n" in (DATA / "jobs.yaml").read_bytes()  # saved on Windows
    jobs = by_name(parse_rundeck(DATA / "jobs.yaml"))
    assert list(jobs) == ["generate-data", "disk report", "last-day-cleanup"]
    gen = jobs["generate-data"]
    job = gen.job
    assert job.project == "ml/training" and job.description.startswith("Nightly training-data generation — Größe")
    assert [s.kind for s in job.steps] == [StepKind.COMMAND, StepKind.SCRIPT, StepKind.JOB]  # in order
    assert (job.steps[2].job, job.steps[2].options) == ("notify-dashboard", {})  # -run ${job.execid}: reported
    assert job.steps[0].command.startswith("{ mkdir -p /data/train/${option.split}\n} || { rc=$?; echo")
    assert job.steps[1].filename == "step2.bash"
    assert '$LABDECK_OPTION_SAMPLES' in job.steps[1].script and "${LABDECK_OPTION_SPLIT}" in job.steps[1].script
    options = {o.name: o for o in job.options}
    assert (options["samples"].default, options["samples"].required) == ("1000", True)
    assert options["split"].choices == ["train", "validate", "test"]
    assert options["seed"].choices == []            # suggestions only in Rundeck
    assert options["api_token"].default == ""       # a secure option keeps no value
    assert job.targets == "tag:gpu&tag:linux,!gpu-spare"
    policy = job.policy
    assert (policy.max_parallel, policy.max_runtime_s, policy.retries, policy.retry_delay_s) == (4, 7200, 2, 300)
    assert policy.notify_emails == ["lab@example.org", "ops@example.org"]
    assert policy.notify_webhooks == ["https://hooks.slack.com/services/T000/B000/XXXX"]
    (schedule,) = gen.schedules
    assert (schedule.expr, schedule.tz, schedule.enabled) == ("30 2 * * mon-fri", "Europe/Berlin", True)
    report = "\n".join(gen.not_converted)
    for left in ("scriptfile /var/rundeck/scripts/upload.sh", "'${job.execid}' (a Rundeck context variable)",
                 "plugin step 'copyfile'", "secure option", "onstart notifications", "'seed'"):
        assert left in report


def test_quoted_names_name_lists_and_quartz_day_numbers():
    disk = by_name(parse_rundeck(DATA / "jobs.yaml"))["disk report"]
    assert disk.job.targets == "web01&tag:windows,web02&tag:windows"  # both clauses must match
    assert disk.job.policy.overlap == "parallel"
    assert disk.schedules[0].expr == "0 6 * * 1-5"  # Quartz 2-6 (Mon-Fri) is cron 1-5


def test_a_node_filter_labdeck_cannot_match_leaves_the_job_out_unless_targets_are_given():
    cleanup = by_name(parse_rundeck(DATA / "jobs.yaml"))["last-day-cleanup"]
    assert cleanup.job is None and "osFamily" in cleanup.not_converted[-1] and "--targets" in cleanup.not_converted[-1]
    cleanup = by_name(parse_rundeck(DATA / "jobs.yaml", Overrides(targets="tag:linux")))["last-day-cleanup"]
    assert cleanup.job.targets == "tag:linux"
    assert cleanup.schedules == [] and "'L'" in "\n".join(cleanup.not_converted)  # last day of month: refused


def test_xml_export_with_bom_and_crlf_converts_the_same_way():
    raw = (DATA / "jobs.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    jobs = by_name(parse_rundeck(DATA / "jobs.xml", Overrides(project="lab")))
    sync = jobs["sync-results"]
    job = sync.job
    assert job.project == "lab" and job.description == "Pull results — naïve résumé of the run"
    assert [s.command or s.filename for s in job.steps] == ["rsync -a /data/out/ ${option.target}/", "step2.sh"]
    assert job.steps[1].script == '#!/bin/sh\necho "mode ${LABDECK_OPTION_MODE}"\nexit 0'
    assert {o.name: o.choices for o in job.options} == {"target": [], "mode": ["fast", "full"]}
    assert (job.policy.max_parallel, job.policy.max_runtime_s, job.policy.retries) == (2, 5400, 1)
    assert job.policy.notify_on == ["failed", "succeeded", "missed"]
    assert sync.schedules[0].expr == "15 4 * * *"
    assert any("SlackNotification" in line for line in sync.not_converted)
    every = jobs["every-second"]
    assert every.job.targets == "this-computer" and every.schedules == []
    assert "fires at second" in every.not_converted[-1]


@pytest.mark.parametrize("quartz, cron", [
    ("0 30 2 ? * MON-FRI *", "30 2 * * mon-fri"),
    ("0 0/15 * * * ?", "0-59/15 * * * *"),
    ("0 5/20 8-18 ? * 1,7", "5-59/20 8-18 * * 0,6"),
    ("0 0 3 1 JAN,JUL ?", "0 3 1 jan,jul *"),
])
def test_quartz_converts_when_exact(quartz, cron):
    assert quartz_to_cron(quartz) == cron


@pytest.mark.parametrize("quartz, reason", [
    ("15 0 2 * * ?", "second"), ("0 0 2 ? * * 2027", "year"), ("0 0 2 L * ?", "'L'"),
    ("0 0 2 15W * ?", "'W'"), ("0 0 2 ? * 6#3", "'#'"), ("0 0 2 * *", "6 or 7 fields"),
])
def test_quartz_refuses_what_cron_cannot_say(quartz, reason):
    with pytest.raises(QuartzNotExact, match=reason):
        quartz_to_cron(quartz)


@pytest.mark.parametrize("name, text, line, reason", [
    ("bad.yaml", "- name: a\n  sequence:\n    commands:\n    - exec: x\n  options: [\n", 6, "not valid YAML"),
    ("bad.xml", "<joblist>\n  <job>\n    <name>a</name>\n  </jobb>\n</joblist>\n", 4, "not valid XML"),
    ("other.xml", "<project>\n</project>\n", 1, "not a Rundeck job export"),
    ("entity.xml", '<?xml version="1.0"?>\n<!DOCTYPE joblist [<!ENTITY x "boom">]>\n<joblist/>\n', 2, "ENTITY"),
    ("scalar.yaml", "just text\n", 1, "a list of jobs"),
])
def test_broken_exports_name_the_line(tmp_path, name, text, line, reason):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InventoryError, match=rf"{name}:{line}: .*{reason}"):
        parse_rundeck(path)


def test_a_job_without_steps_or_name_is_reported_not_imported(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("- name: empty\n  sequence: {}\n- description: no name\n  sequence:\n    commands: [{exec: x}]\n"
                    "- name: dup\n  sequence: {commands: [{exec: a}]}\n"
                    "- name: dup\n  sequence: {commands: [{exec: b}]}\n")
    jobs = parse_rundeck(path)
    assert [c.job is None for c in jobs] == [True, True, False, True]
    assert "no 'sequence' with 'commands'" in jobs[0].not_converted[-1] and jobs[0].source.endswith("jobs.yaml:1")
    assert "no name" in jobs[1].not_converted[-1]
    assert "comes earlier in the file" in jobs[3].not_converted[-1]


def test_node_filter_clauses_must_all_match_as_in_rundeck():
    # Rundeck: "the result is all nodes which match all of the clauses"
    disk = by_name(parse_rundeck(DATA / "jobs.yaml"))["disk report"]
    assert disk.job.targets == "web01&tag:windows,web02&tag:windows"
    train = parse_rundeck(DATA / "handlers.yaml")[0]
    assert train.job.targets == ("gpu01&tag:cuda&tag:linux,gpu01&tag:rocm,gpu02&tag:cuda&tag:linux,gpu02&tag:rocm,"
                                 "!tag:broken")


def test_the_filter_picks_the_nodes_rundeck_would(tmp_path):
    from labdeck.core.models import Node
    from labdeck.core.targets import resolve_targets

    nodes = [Node("web01", tags=["windows"]), Node("web02", tags=["linux"]), Node("web03", tags=["windows"]),
             Node("gpu01", tags=["cuda", "linux"]), Node("gpu02", tags=["cuda", "linux", "broken"]),
             Node("gpu03", tags=["rocm"])]
    path = tmp_path / "jobs.yaml"
    path.write_text("- name: a\n  nodefilters: {filter: 'web01,web02 tags: windows'}\n"
                    "  sequence: {commands: [{exec: x}]}\n"
                    "- name: b\n  nodefilters: {filter: 'tags: cuda,rocm !tags: broken'}\n"
                    "  sequence: {commands: [{exec: x}]}\n")
    a, b = parse_rundeck(path)
    assert [n.name for n in resolve_targets(a.job.targets, nodes)] == ["web01"]
    assert [n.name for n in resolve_targets(b.job.targets, nodes)] == ["gpu01", "gpu03"]


def test_run_time_node_choices_and_option_retries_are_reported_not_dropped():
    train = parse_rundeck(DATA / "handlers.yaml")[0]
    report = "\n".join(train.not_converted)
    assert "nodesSelectedByDefault: false" in report
    assert "successOnEmptyNodeFilter: true" in report
    assert "excludePrecedence: false" in report
    assert "retry '${option.retries}' (not a number)" in report
    assert train.job.policy.max_runtime_s == 26 * 3600  # timeout 1d2h


def test_error_handlers_fold_into_posix_scripts_and_the_rest_is_reported():
    train = parse_rundeck(DATA / "handlers.yaml")[0]
    steps = train.job.steps
    assert [s.kind for s in steps] == [StepKind.SCRIPT, StepKind.SCRIPT, StepKind.JOB, StepKind.COMMAND]
    assert steps[0].script.startswith("#!/bin/bash\nlabdeck_error_handler() {")
    report = "\n".join(train.not_converted)
    assert "step 3: its error handler" in report       # on a job reference: said, not dropped
    assert "step 4: its error handler" not in report   # a sh script handler on a command: folded in
    assert steps[3].command.startswith("{ ./report.sh\n} || { rc=$?; sh -s <<'LABDECK_ERROR_HANDLER'\n")


def test_a_script_handler_folded_into_a_command_runs_when_the_command_fails(tmp_path):
    import subprocess

    step = parse_rundeck(DATA / "handlers.yaml")[0].job.steps[3]
    done = subprocess.run(["sh", "-c", step.command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 127 and "report failed" in done.stdout   # ./report.sh is not there
    (tmp_path / "report.sh").write_text("#!/bin/sh\necho reported\n")
    (tmp_path / "report.sh").chmod(0o755)
    done = subprocess.run(["sh", "-c", step.command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "reported\n")


@pytest.mark.parametrize("index, code, said", [(0, 3, "train failed with 3"), (1, 0, "tidied")])
def test_a_folded_script_handler_runs_on_failure_and_keeps_or_recovers_the_exit_code(tmp_path, index, code, said):
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("needs bash to run the converted script")
    step = parse_rundeck(DATA / "handlers.yaml")[0].job.steps[index]
    script = tmp_path / step.filename
    script.write_text(step.script)
    done = subprocess.run(["bash" if step.filename.endswith("bash") else "sh", str(script)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == code
    assert said in done.stdout + done.stderr


def test_a_script_that_succeeds_does_not_run_its_handler(tmp_path):
    import subprocess

    path = tmp_path / "ok.yaml"
    path.write_text("- name: ok\n  sequence:\n    commands:\n    - script: \"#!/bin/sh\\necho fine\"\n"
                    "      errorhandler: {exec: echo HANDLER}\n")
    step = parse_rundeck(path)[0].job.steps[0]
    script = tmp_path / step.filename
    script.write_text(step.script)
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "fine\n")


def test_without_a_thread_count_rundeck_runs_one_node_at_a_time_and_so_does_the_import(tmp_path):
    jobs = by_name(parse_rundeck(DATA / "jobs.yaml"))
    assert jobs["disk report"].job.policy.max_parallel == 1        # a filter, no dispatch: Rundeck's default
    assert "one node at a time" in "\n".join(jobs["disk report"].converted)
    assert jobs["generate-data"].job.policy.max_parallel == 4      # threadcount '4'
    every = by_name(parse_rundeck(DATA / "jobs.xml"))["every-second"]
    assert every.job.policy.max_parallel == 0                      # no filter: this computer only


def test_a_step_first_strategy_is_reported_when_it_changes_the_order(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("- name: one\n  sequence: {strategy: sequential, commands: [{exec: a}]}\n"
                    "- name: two\n  sequence: {strategy: sequential, commands: [{exec: a}, {exec: b}]}\n")
    one, two = parse_rundeck(path)
    assert not any("strategy" in line for line in one.not_converted)   # one step: the same order
    assert "workflow strategy 'sequential'" in "\n".join(two.not_converted)


def test_the_xml_export_carries_handlers_and_node_choices_the_same_way(tmp_path):
    import subprocess

    path = tmp_path / "jobs.xml"
    path.write_text("""<joblist>
  <job>
    <name>tidy</name>
    <nodesSelectedByDefault>false</nodesSelectedByDefault>
    <nodefilters><filter>gpu01 tags: cuda</filter></nodefilters>
    <sequence keepgoing="false" strategy="node-first">
      <command>
        <exec>false</exec>
        <errorhandler keepgoingOnSuccess="true">
          <script><![CDATA[#!/bin/sh
echo "recovered"]]></script>
        </errorhandler>
      </command>
    </sequence>
  </job>
</joblist>
""")
    (tidy,) = parse_rundeck(path)
    assert tidy.job.targets == "gpu01&tag:cuda" and tidy.job.policy.max_parallel == 1
    assert "nodesSelectedByDefault: false" in "\n".join(tidy.not_converted)
    done = subprocess.run(["sh", "-c", tidy.job.steps[0].command], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "recovered\n")   # keepgoingOnSuccess: the handler's result


def test_enforced_values_a_run_can_actually_meet(tmp_path):
    from labdeck.core.errors import InvalidInput
    from labdeck.engine.engine import resolve_options

    path = tmp_path / "jobs.yaml"
    path.write_text("- name: opt\n  options:\n"
                    "  - {name: mode, value: turbo, values: [fast, full], enforced: true}\n"
                    "  - {name: level, value: low, values: 'low|high', valuesListDelimiter: '|', enforced: true}\n"
                    "  - {name: gpus, value: '0,1', values: '0,1,2,3', multivalued: true, enforced: true}\n"
                    "  sequence: {commands: [{exec: x}]}\n")
    (opt,) = parse_rundeck(path)
    options = {o.name: o for o in opt.job.options}
    assert (options["level"].default, options["level"].choices) == ("low", ["low", "high"])
    assert (options["mode"].default, options["mode"].choices) == ("", ["fast", "full"])
    assert options["gpus"].choices == [] and options["gpus"].default == "0,1"
    report = "\n".join(opt.not_converted)
    assert "its default 'turbo' is not one of its allowed values" in report and "several of 0, 1, 2, 3" in report
    assert resolve_options(opt.job, {}) == {"mode": "", "level": "low", "gpus": "0,1"}   # a scheduled run starts
    with pytest.raises(InvalidInput, match="allowed fast, full"):
        resolve_options(opt.job, {"mode": "turbo"})


def test_timeouts_of_no_limit_and_with_spaced_units(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("- name: none\n  timeout: '0'\n  sequence: {commands: [{exec: a}]}\n"
                    "- name: spaced\n  timeout: 1d 12h\n  retry: {retry: '1', delay: 1m 30s}\n"
                    "  sequence: {commands: [{exec: a}]}\n")
    none, spaced = parse_rundeck(path)
    assert none.job.policy.max_runtime_s is None and none.not_converted == []   # 0: no limit in Rundeck
    assert (spaced.job.policy.max_runtime_s, spaced.job.policy.retry_delay_s) == (36 * 3600, 90)
