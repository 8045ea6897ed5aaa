"""``labdeck job import --from rundeck`` as a user runs it, and the imported job run on a real
sshd node: options (with their allowed values) reach the command and the script under
LabDeck's names, the folded error handler runs when its step fails, and a file with a job
that cannot be converted imports nothing unless --partial."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import add_node, labdeck

DATA = Path(__file__).resolve().parents[1] / "data" / "rundeck"


def rundeck_export(node: str, fail: bool = False) -> str:
    return f"""# from rd jobs list -F yaml
- name: make-shards
  group: ml/training
  description: Shards for the detector
  nodefilters:
    dispatch: {{threadcount: '2', keepgoing: true}}
    filter: 'name: {node}'
  options:
  - name: split
    value: train
    values: [train, validate]
    enforced: true
  - name: samples
    value: '3'
  schedule:
    time: {{hour: '03', minute: '00', seconds: '0'}}
    weekday: {{day: '*'}}
    month: '*'
    year: '*'
  sequence:
    commands:
    - exec: echo "split=${{option.split}}" {'&& false' if fail else ''}
      errorhandler:
        exec: echo "handler saw the failure"
    - script: |-
        #!/bin/sh
        echo "samples=$RD_OPTION_SAMPLES for @option.split@"
"""


def test_rundeck_job_imports_into_its_project_and_runs_on_a_real_node(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node)
    export = tmp_path / "jobs.yaml"
    export.write_text(rundeck_export(sshd_node.name))
    result = labdeck(data_dir, "job", "import", str(export), "--from", "rundeck", "--tz", "Europe/Berlin")
    assert result.returncode == 0, result.stderr
    assert "job 'make-shards'" in result.stdout and "project ml/training" in result.stdout
    assert "imported 1 jobs (1 schedules)" in result.stdout
    schedules = json.loads(labdeck(data_dir, "schedule", "list", "--json").stdout)["schedules"]
    assert [(s["job"], s["expr"], s["tz"]) for s in schedules] == [("make-shards", "0 3 * * *", "Europe/Berlin")]

    run = labdeck(data_dir, "run", "make-shards", "-p", "split=validate", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    log = Path(json.loads(run.stdout)["nodes"][0]["log"]).read_text()
    assert "split=validate" in log and "samples=3 for validate" in log
    refused = labdeck(data_dir, "run", "make-shards", "-p", "split=test")
    assert refused.returncode == 2 and "allowed train, validate" in refused.stderr


def test_the_folded_error_handler_runs_and_the_step_still_fails(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node)
    export = tmp_path / "jobs.yaml"
    export.write_text(rundeck_export(sshd_node.name, fail=True))
    assert labdeck(data_dir, "job", "import", str(export), "--from", "rundeck").returncode == 0
    run = labdeck(data_dir, "run", "make-shards", "--json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    log = Path(report["nodes"][0]["log"]).read_text()
    assert "handler saw the failure" in log and "samples=" not in log  # the next step did not run


def test_a_file_with_a_job_that_cannot_convert_imports_nothing_unless_partial(data_dir):
    before = labdeck(data_dir, "job", "list", "--json").stdout
    result = labdeck(data_dir, "job", "import", str(DATA / "jobs.yaml"), "--from", "rundeck")
    assert result.returncode == 2
    assert "nothing was imported: 3 of 3 jobs cannot be" in result.stderr  # unknown nodes, osFamily filter
    assert "job 'generate-data' (" in result.stdout and "unknown node 'gpu-spare'" in result.stdout
    assert labdeck(data_dir, "job", "list", "--json").stdout == before
    partial = labdeck(data_dir, "job", "import", str(DATA / "jobs.xml"), "--from", "rundeck", "--partial",
                      "--targets", "this-computer", "--project", "lab")
    assert partial.returncode == 0, partial.stderr
    jobs = {j["name"] for j in json.loads(labdeck(data_dir, "job", "list", "--json").stdout)}
    assert {"sync-results", "every-second"} <= jobs


def test_a_job_reference_to_a_job_of_the_same_file_becomes_a_job_step(data_dir, tmp_path):
    export = tmp_path / "jobs.yaml"
    export.write_text("- name: child\n  options: [{name: n, value: '1'}]\n"
                      "  sequence: {commands: [{exec: 'echo child n=${option.n}'}]}\n"
                      "- name: parent\n  sequence:\n    commands:\n"
                      "    - jobref: {group: lab, name: child, args: '-n 3'}\n"
                      "    - jobref: {name: missing}\n")
    refused = labdeck(data_dir, "job", "import", str(export), "--from", "rundeck")
    assert refused.returncode == 2 and "runs job 'missing', which does not exist" in refused.stdout
    export.write_text(export.read_text().replace("    - jobref: {name: missing}\n", ""))
    result = labdeck(data_dir, "job", "import", str(export), "--from", "rundeck")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "converted: step 1: job reference to 'child' with n" in result.stdout
    run = labdeck(data_dir, "run", "parent", "--json")
    assert run.returncode == 0, run.stderr
    (child,) = json.loads(run.stdout)["children"]
    assert "child n=3" in Path(child["nodes"]["this-computer"]).read_text()
