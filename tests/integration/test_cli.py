"""The ``labdeck`` command line as a user runs it: a real process, real sshd nodes, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

from tests.support.cli import LABDECK, add_node, labdeck


def test_first_start_has_this_computer_and_a_sample_job_that_succeeds(data_dir):
    nodes = json.loads(labdeck(data_dir, "node", "list", "--json").stdout)
    assert [n["name"] for n in nodes] == ["this-computer"]
    result = labdeck(data_dir, "run", "hello", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert "Hello from" in Path(report["nodes"][0]["log"]).read_text()
    # Removed sample items are not re-created at the next start.
    assert labdeck(data_dir, "job", "remove", "hello").returncode == 0
    assert "hello" not in labdeck(data_dir, "job", "list").stdout


def test_run_json_reports_each_node_and_exit_code_reflects_failures(data_dir, sshd_nodes):
    nodes = sshd_nodes(3)
    for sshd in nodes:
        add_node(data_dir, sshd, "--tag", "lab")
    add = labdeck(data_dir, "job", "add", "check", "--command", 'test "$LABDECK_NODE" != ' + nodes[2].name,
                  "--targets", "tag:lab")
    assert add.returncode == 0, add.stderr
    result = labdeck(data_dir, "run", "check", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    by_node = {n["node"]: n for n in report["nodes"]}
    assert by_node[nodes[0].name]["status"] == "succeeded" and by_node[nodes[0].name]["exit_code"] == 0
    assert by_node[nodes[2].name]["status"] == "failed" and by_node[nodes[2].name]["exit_code"] == 1
    assert all(Path(n["log"]).exists() for n in report["nodes"])


def test_exec_and_logs_and_runs(data_dir, sshd_node):
    add_node(data_dir, sshd_node)
    result = labdeck(data_dir, "exec", "--targets", sshd_node.name, "--json", "--", "echo", "from-exec")
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    assert labdeck(data_dir, "logs", str(run_id)).stdout == "from-exec\n"
    runs = json.loads(labdeck(data_dir, "runs", "--json").stdout)
    assert runs[0]["run_id"] == run_id and runs[0]["nodes"] == {sshd_node.name: "succeeded"}


def test_cancel_from_another_process_kills_the_run(data_dir, sshd_node):
    add_node(data_dir, sshd_node)
    marker = f"labdeck-cli-cancel-{uuid.uuid4().hex[:8]}"
    labdeck(data_dir, "job", "add", "long", "--command", f"sh -c 'sleep 120; : {marker}'", "--targets", sshd_node.name)
    runner = subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), "run", "long", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = None
    for _ in range(100):
        runs = json.loads(labdeck(data_dir, "runs", "--json").stdout)
        if runs and runs[0]["nodes"].get(sshd_node.name) == "running":
            run_id = runs[0]["run_id"]
            break
        time.sleep(0.2)
    assert run_id is not None, "the run never started"
    time.sleep(0.5)
    assert labdeck(data_dir, "cancel", str(run_id)).returncode == 0
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 1
    report = json.loads(out)
    assert report["status"] == "cancelled"
    assert report["nodes"][0]["status"] == "cancelled" and report["nodes"][0]["kill"] == "killed"
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if marker in line and not line.startswith("Z")]


def test_follow_prints_output_as_it_arrives(data_dir, sshd_node):
    add_node(data_dir, sshd_node)
    labdeck(data_dir, "job", "add", "ticker", "--command", "for i in 1 2 3; do echo tick $i; sleep 0.5; done",
            "--targets", sshd_node.name)
    runner = subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), "run", "ticker"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            runs = json.loads(labdeck(data_dir, "runs", "--json").stdout)
            if runs:
                break
            time.sleep(0.1)
        follow = labdeck(data_dir, "logs", str(runs[0]["run_id"]), "--follow", timeout=30)
        assert follow.stdout == "tick 1\ntick 2\ntick 3\n"
    finally:
        runner.wait(timeout=30)


def test_job_export_import_round_trip(data_dir, tmp_path):
    assert labdeck(data_dir, "job", "add", "gen", "--command", "echo ${option.shard}", "--targets", "this-computer",
                   "--timeout", "30", "--retries", "2", "--option", "shard=0").returncode == 0
    exported = labdeck(data_dir, "job", "export", "gen").stdout
    other = tmp_path / "other"
    path = tmp_path / "gen.yaml"
    path.write_text(exported)
    assert labdeck(other, "job", "import", str(path)).returncode == 0
    assert labdeck(other, "job", "export", "gen").stdout == exported
    result = labdeck(other, "run", "gen", "-p", "shard=7", "--json")
    assert "7\n" == Path(json.loads(result.stdout)["nodes"][0]["log"]).read_text()


def test_errors_are_one_clear_line_and_leave_nothing_half_written(data_dir, tmp_path):
    cases = [
        (("run", "nope"), "no job named 'nope'"),
        (("job", "add", "j", "--command", "true", "--targets", "ghost"), "unknown node 'ghost'"),
        (("run", "hello", "-p", "colour=red"), "has no option colour"),
        (("node", "add", "n1", "--host", "127.0.0.1", "--port", "1", "--user", "x", "--accept-host-key"),
         "cannot connect"),
        (("job", "import", str(tmp_path / "missing.yaml")), "cannot read"),
        (("logs", "999"), "no run with id 999"),
    ]
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: x\nsteps: [\n")
    cases.append((("job", "import", str(bad_yaml)), "not valid YAML"))
    for args, expected in cases:
        result = labdeck(data_dir, *args)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("labdeck: error: ") and expected in lines[0], (args,
                                                                                                      result.stderr)
    assert [n["name"] for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)] == ["this-computer"]
    assert [j["name"] for j in json.loads(labdeck(data_dir, "job", "list", "--json").stdout)] == ["hello"]


def test_password_from_stdin_goes_to_the_keyring_only(data_dir, sshd_node):
    from tests.support.sshd import ensure_password_user
    user, password = ensure_password_user()
    result = labdeck(data_dir, "node", "add", "pw", "--host", sshd_node.host, "--port", str(sshd_node.port),
                     "--user", user, "--password-stdin", "--accept-host-key", stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    assert labdeck(data_dir, "exec", "--targets", "pw", "--", "whoami").returncode == 0
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_without_a_display_the_app_says_so_instead_of_crashing(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([*LABDECK, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("labdeck: error: no display") and "labdeck --help" in result.stderr


def test_runs_shows_why_a_fire_was_missed(data_dir):
    from labdeck.core.models import Trigger
    from labdeck.core.status import RunStatus
    from labdeck.engine.engine import Engine
    with Engine(data_dir) as engine:
        engine.catalog.record_entry("hello", None, RunStatus.MISSED, Trigger.SCHEDULE, time.time() - 60,
                                    "LabDeck was not running at 02:00")
    table = labdeck(data_dir, "runs").stdout
    assert "missed" in table and "LabDeck was not running at 02:00" in table
    entry = json.loads(labdeck(data_dir, "runs", "--json").stdout)[0]
    assert entry["status"] == "missed" and entry["note"] == "LabDeck was not running at 02:00" and entry["nodes"] == {}
