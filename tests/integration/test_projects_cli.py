"""Projects on the command line, with real runs on this computer: jobs belong to a project,
``job list``, ``runs`` and ``project list`` filter and count by it, nodes are shared."""

from __future__ import annotations

import json

from tests.integration.test_cli import labdeck


def test_jobs_and_runs_by_project_on_shared_nodes(data_dir):
    for name, project in (("train", "ml"), ("evaluate", "ml"), ("backup", "ops")):
        added = labdeck(data_dir, "job", "add", name, "--command", f"echo {name}", "--targets", "this-computer",
                        "--project", project)
        assert added.returncode == 0, added.stderr
    for name in ("train", "backup", "hello"):  # hello: the sample job, in the default project
        assert labdeck(data_dir, "run", name).returncode == 0

    ml = json.loads(labdeck(data_dir, "job", "list", "--project", "ml", "--json").stdout)
    assert sorted(j["name"] for j in ml) == ["evaluate", "train"] and {j["project"] for j in ml} == {"ml"}
    table = labdeck(data_dir, "job", "list").stdout.splitlines()
    assert table[0].split()[:2] == ["NAME", "PROJECT"] and ["backup", "ops"] in [line.split()[:2] for line in table]

    runs = json.loads(labdeck(data_dir, "runs", "--project", "ml", "--json").stdout)
    assert [r["job"] for r in runs] == ["train"]
    assert [r["job"] for r in json.loads(labdeck(data_dir, "runs", "--json").stdout)] == ["hello", "backup", "train"]

    projects = {p["name"]: p for p in json.loads(labdeck(data_dir, "project", "list", "--json").stdout)}
    assert list(projects) == ["default", "ml", "ops"]
    assert (projects["ml"]["jobs"], projects["ml"]["runs"]) == (2, 1)
    assert (projects["default"]["jobs"], projects["default"]["runs"]) == (1, 1)
    table = labdeck(data_dir, "project", "list").stdout
    assert table.splitlines()[0].split() == ["PROJECT", "JOBS", "RUNS", "LAST", "RUN"]

    bad = labdeck(data_dir, "job", "add", "x", "--command", "true", "--targets", "all", "--project", "!!")
    assert bad.returncode == 2 and "project '!!' is not a valid name" in bad.stderr


def test_a_job_file_carries_its_project_and_import_can_override_it(data_dir, tmp_path):
    job_file = tmp_path / "gen.yaml"
    job_file.write_text("name: gen\nproject: ml/training\ntargets: this-computer\nsteps: [echo hi]\n")
    assert labdeck(data_dir, "job", "import", str(job_file)).returncode == 0
    assert "project: ml/training" in labdeck(data_dir, "job", "show", "gen").stdout
    assert labdeck(data_dir, "job", "import", str(job_file), "--replace", "--project", "lab").returncode == 0
    assert json.loads(labdeck(data_dir, "job", "list", "--project", "lab", "--json").stdout)[0]["name"] == "gen"
