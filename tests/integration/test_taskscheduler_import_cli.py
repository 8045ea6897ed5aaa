"""``labdeck schedule import --from taskscheduler`` as a user runs it: the job and its
schedules land in the catalog on the chosen Windows nodes, non-Windows targets are refused,
and a dry run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import labdeck

DATA = Path(__file__).resolve().parents[1] / "data" / "taskscheduler"


def add_windows_node(data_dir, name: str, *extra: str) -> None:
    result = labdeck(data_dir, "node", "add", name, "--transport", "winrm", "--host", "10.9.0.5", "--user", "lab",
                     "--tag", "windows", "--no-check", *extra)
    assert result.returncode == 0, result.stderr


def test_a_task_becomes_a_job_with_schedules_on_the_windows_nodes(data_dir):
    add_windows_node(data_dir, "win1")
    dry = labdeck(data_dir, "schedule", "import", str(DATA / "nightly-prep.xml"), "--from", "taskscheduler",
                  "--targets", "tag:windows", "--tz", "Europe/Berlin", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "NOT converted: trigger 6 (line 53): at log on" in dry.stdout
    assert "Nightly-Prep" not in labdeck(data_dir, "job", "list").stdout

    result = labdeck(data_dir, "schedule", "import", str(DATA / "nightly-prep.xml"), "--from", "taskscheduler",
                     "--targets", "tag:windows", "--tz", "Europe/Berlin", "--project", "windows-lab")
    assert result.returncode == 0, result.stderr
    assert "imported job 'Nightly-Prep' with 3 schedules" in result.stdout
    shown = labdeck(data_dir, "job", "show", "Nightly-Prep").stdout
    assert "project: windows-lab" in shown and "cd /d" in shown and "prep.bat" in shown
    schedules = json.loads(labdeck(data_dir, "schedule", "list", "--json").stdout)["schedules"]
    assert sorted((s["expr"], s["tz"], s["enabled"]) for s in schedules) == [
        ("0 6 1,15 1,4,7,10 *", "Europe/Berlin", False), ("30 2 * * *", "Europe/Berlin", True),
        ("5 18 * * mon,fri", "Europe/Berlin", True)]

    again = labdeck(data_dir, "schedule", "import", str(DATA / "nightly-prep.xml"), "--from", "taskscheduler",
                    "--targets", "tag:windows")
    assert again.returncode == 2 and "already exists" in again.stderr
    replaced = labdeck(data_dir, "schedule", "import", str(DATA / "nightly-prep.xml"), "--from", "taskscheduler",
                       "--targets", "tag:windows", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert len(json.loads(labdeck(data_dir, "schedule", "list", "--json").stdout)["schedules"]) == 3  # not 6


def test_targets_must_be_windows_nodes_that_run_cmd(data_dir):
    refused = labdeck(data_dir, "schedule", "import", str(DATA / "results-sync.xml"), "--from", "taskscheduler",
                      "--targets", "this-computer")
    assert refused.returncode == 2 and "this-computer is not a Windows (WinRM) node" in refused.stderr
    add_windows_node(data_dir, "winps", "--shell", "powershell")
    refused = labdeck(data_dir, "schedule", "import", str(DATA / "results-sync.xml"), "--from", "taskscheduler",
                      "--targets", "winps")
    assert refused.returncode == 2 and "PowerShell" in refused.stderr
    assert "results-sync" not in labdeck(data_dir, "job", "list").stdout
