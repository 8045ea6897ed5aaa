"""Workflows, arrays and the queue through the ``labdeck`` command line, as real processes:
import a YAML job file, run it, list its tasks, see the queue from a second process and
reorder it there."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.support.cli import LABDECK, add_node, labdeck


@pytest.mark.slow
def test_yaml_workflow_imports_runs_and_lists_its_steps(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node, "--tag", "lab")
    (tmp_path / "items.txt").write_text("x\ny\nz\n")
    (tmp_path / "flow.yaml").write_text("""
name: flow
targets: tag:lab
workflow:
  - name: prepare
    command: echo "count=3" >> "$LABDECK_OUTPUT"
  - name: report
    depends_on: [prepare]
    command: echo "prepared" ${steps.prepare.outputs.count}
""")
    (tmp_path / "sweep.yaml").write_text("""
name: sweep
targets: tag:lab
over_file: items.txt
slots_per_node: 2
steps: ['echo "item $LABDECK_ITEM"']
""")
    for name in ("flow", "sweep"):
        imported = labdeck(data_dir, "job", "import", str(tmp_path / f"{name}.yaml"))
        assert imported.returncode == 0, imported.stderr
    assert "over_file: " + str(tmp_path / "items.txt") in labdeck(data_dir, "job", "export", "sweep").stdout

    result = labdeck(data_dir, "run", "flow")
    assert result.returncode == 0, result.stderr
    assert "step report: succeeded" in result.stderr
    run_id = int(result.stderr.split()[1])
    tasks = json.loads(labdeck(data_dir, "tasks", str(run_id), "--json").stdout)
    assert [t["task"] for t in tasks["tasks"]] == ["prepare", "report"]
    with open(tasks["tasks"][1]["log"]) as log:
        assert "prepared 3" in log.read()
    logs = labdeck(data_dir, "logs", str(run_id)).stdout
    assert f"==> task report on {sshd_node.name} (succeeded) <==\nprepared 3\n" in logs

    swept = labdeck(data_dir, "run", "sweep", "--json")
    assert swept.returncode == 0, swept.stderr
    report = json.loads(swept.stdout)
    assert report["progress"] == {"total": 3, "done": 3, "failed": 0, "running": 0, "queued": 0, "waiting": 0}
    assert sorted(t["task"] for t in report["tasks"]) == ["0", "1", "2"]
    items = json.loads(labdeck(data_dir, "tasks", str(report["run_id"]), "--json").stdout)["tasks"]
    assert {t["task"]: t["item"] for t in items} == {"0": "x", "1": "y", "2": "z"}
    nothing = labdeck(data_dir, "rerun", str(report["run_id"]))
    assert nothing.returncode == 2 and f"every item of run {report['run_id']} succeeded" in nothing.stderr
    runs = json.loads(labdeck(data_dir, "runs", "--json").stdout)
    assert [r["job"] for r in runs[:2]] == ["sweep", "flow"]  # task runs stay out of the history list


@pytest.mark.slow
def test_queue_is_visible_and_reorderable_from_another_process(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node, "--tag", "lab")
    assert labdeck(data_dir, "node", "capacity", sshd_node.name, "--cpus", "1").returncode == 0
    release = tmp_path / "release"
    for name, wait in (("hold", f"while [ ! -e {release} ]; do sleep 0.05; done; "), ("later", "")):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\ntargets: tag:lab\nresources: {{cpus: 1}}\n"
                                               f"steps: ['{wait}echo {name}']\n")
        assert labdeck(data_dir, "job", "import", str(tmp_path / f"{name}.yaml")).returncode == 0
    command = [*LABDECK, "--data-dir", str(data_dir), "run", "hold"]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiter = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = json.loads(labdeck(data_dir, "queue", "--json").stdout)
            if line and line[0]["status"] == "running":
                break
            time.sleep(0.2)
        waiter = subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), "run", "later"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while time.monotonic() < deadline:
            line = json.loads(labdeck(data_dir, "queue", "--json").stdout)
            if len(line) == 2:
                break
            time.sleep(0.2)
        assert [e["job_name"] for e in line] == ["hold", "later"]
        later = line[1]["run_id"]
        moved = labdeck(data_dir, "queue", "move", str(later), "--priority", "7")
        assert moved.returncode == 0, moved.stderr
        assert "number 1 in the queue (priority 7)" in moved.stdout
        table = labdeck(data_dir, "queue").stdout
        assert table.splitlines()[1].split()[:4] == ["1", str(later), "later", "7"]
    finally:
        release.touch()
        holder.communicate(timeout=60)
        if waiter is not None:
            waiter.communicate(timeout=60)
    assert holder.returncode == 0
    assert labdeck(data_dir, "queue").stdout.strip() == "the queue is empty"
    bad = labdeck(data_dir, "queue", "move", str(later), "--up")
    assert bad.returncode == 2 and "has already ended" in bad.stderr
