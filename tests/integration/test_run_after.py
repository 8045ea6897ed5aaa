"""Runs that wait for other runs, with real runs on this computer and a real sshd node:
``labdeck run B --after 42`` waits (and ``labdeck queue`` says so), starts when 42 ends, and
with ``--after-ok`` starts only if 42 succeeded; otherwise a skipped entry says why."""

from __future__ import annotations

import json
import subprocess
import time

from tests.integration.test_cli import LABDECK, labdeck


def _spawn(data_dir, *args):
    return subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_run_after_waits_in_the_queue_then_starts_when_the_run_ends(data_dir, tmp_path):
    marker = tmp_path / "first-done"
    assert labdeck(data_dir, "job", "add", "first", "--command", f"sleep 10; touch {marker}",
                   "--targets", "this-computer").returncode == 0
    assert labdeck(data_dir, "job", "add", "second", "--command", f"test -e {marker} && echo after-first",
                   "--targets", "this-computer").returncode == 0
    first = _spawn(data_dir, "run", "first", "--json")
    _wait_for(lambda: json.loads(labdeck(data_dir, "runs", "--json").stdout))
    first_id = json.loads(labdeck(data_dir, "runs", "--json").stdout)[0]["run_id"]

    second = _spawn(data_dir, "run", "second", "--after", str(first_id), "--json")
    _wait_for(lambda: any(e.get("job_name") == "second"
                          for e in json.loads(labdeck(data_dir, "queue", "--json").stdout)))
    queue = labdeck(data_dir, "queue").stdout
    assert f"waiting for run {first_id} to end" in queue and "second" in queue

    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert report["status"] == "succeeded"  # the marker existed: it started only after the first ended
    assert first.wait(60) == 0
    assert labdeck(data_dir, "queue").stdout.strip() == "the queue is empty"
    history = {r["run_id"]: r for r in json.loads(labdeck(data_dir, "runs", "--json").stdout)}
    assert history[report["run_id"]]["note"] == f"started after run {first_id} (succeeded)"


def test_after_ok_skips_when_the_run_failed_and_says_why(data_dir, sshd_node):
    from tests.integration.test_cli import add_node
    add_node(data_dir, sshd_node)
    assert labdeck(data_dir, "job", "add", "flaky", "--command", "exit 4", "--targets", sshd_node.name).returncode == 0
    assert labdeck(data_dir, "job", "add", "publish", "--command", "echo published",
                   "--targets", sshd_node.name).returncode == 0
    failed = labdeck(data_dir, "run", "flaky", "--json")
    failed_id = json.loads(failed.stdout)["run_id"]

    skipped = labdeck(data_dir, "run", "publish", "--after", str(failed_id), "--after-ok", "--json")
    assert skipped.returncode == 1
    report = json.loads(skipped.stdout)
    assert report["status"] == "skipped" and f"run {failed_id} ended failed" in report["note"]
    entry = json.loads(labdeck(data_dir, "runs", "--job", "publish", "--json").stdout)[0]
    assert entry["status"] == "skipped" and "--after-ok" in entry["note"]

    ran = labdeck(data_dir, "run", "publish", "--after", str(failed_id), "--json")  # without --after-ok: runs
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "succeeded"


def test_after_checks_what_it_can_at_once(data_dir):
    missing = labdeck(data_dir, "run", "hello", "--after", "999")
    assert missing.returncode == 2 and "no run with id 999" in missing.stderr
    lone = labdeck(data_dir, "run", "hello", "--after-ok")
    assert lone.returncode == 2 and "--after-ok goes with --after" in lone.stderr
