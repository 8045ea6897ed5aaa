"""Distribute and collect against real OpenSSH nodes: 100 MB to five nodes verified by SHA-256
on each, results from five nodes into per-node folders, skipping identical files, folders with
modes and mtimes kept, and glob collection."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from labdeck.core.transfers import Direction, FileOutcome
from labdeck.engine.transfers import TransferRequest
from tests.conftest import add_sshd_node


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def remote_sha256(sshd, path: str) -> str:
    """Hashed on the node by OpenSSH's own client, not by LabDeck."""
    out = subprocess.run([*sshd.ssh_args(), f"sha256sum {path}"], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def run_transfer(engine, request: TransferRequest, timeout: float = 300):
    transfer = engine.transfers.start(request)
    assert engine.transfers.wait(transfer.id, timeout), "transfer did not finish in time"
    return transfer


def test_hundred_megabytes_to_five_nodes_verified_on_each(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(5)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    data = tmp_path / "input.bin"
    data.write_bytes(os.urandom(100_000_000))
    os.utime(data, (1_700_000_000, 1_700_000_000))
    remote_root = tmp_path / "remote"  # every test node is this machine: one folder per node
    request = TransferRequest(Direction.PUT, [str(data)], f"{remote_root}/${{node.name}}/in", "tag:lab", max_parallel=5)
    transfer = run_transfer(engine, request)

    assert transfer.ok, transfer.results
    expected = sha256_file(data)
    for sshd in nodes:
        remote = remote_root / sshd.name / "in" / "input.bin"
        assert remote_sha256(sshd, str(remote)) == expected
        assert int(remote.stat().st_mtime) == 1_700_000_000
        assert not list(remote.parent.glob("input.bin*.labdeck-part"))
        (result,) = transfer.results[sshd.name].files
        assert result.outcome is FileOutcome.COPIED and result.sha256 == expected

    again = run_transfer(engine, request)  # already there: nothing is sent twice
    assert again.ok
    assert {f.outcome for r in again.results.values() for f in r.files} == {FileOutcome.SKIPPED}


def test_results_from_five_nodes_land_in_per_node_folders(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(5)
    remote_root = tmp_path / "remote"
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
        out = remote_root / sshd.name / "results"
        (out / "logs").mkdir(parents=True)
        (out / "metrics.csv").write_text(f"node,{sshd.name}\n")
        (out / "logs" / "train.log").write_text(f"log of {sshd.name}\n")
        (out / "model.bin").write_bytes(os.urandom(300_000))
        (out / "run.sh").write_text("#!/bin/sh\n")
        (out / "run.sh").chmod(0o750)
    dest = tmp_path / "collected"
    transfer = run_transfer(engine, TransferRequest(
        Direction.GET, [f"{remote_root}/${{node.name}}/results"], str(dest), "tag:lab"))

    assert transfer.ok, transfer.results
    for sshd in nodes:
        got = dest / sshd.name / "results"
        src = remote_root / sshd.name / "results"
        assert (got / "metrics.csv").read_text() == f"node,{sshd.name}\n"
        assert (got / "logs" / "train.log").read_text() == f"log of {sshd.name}\n"
        assert sha256_file(got / "model.bin") == sha256_file(src / "model.bin")
        assert (got / "run.sh").stat().st_mode & 0o777 == 0o750
        assert int((got / "model.bin").stat().st_mtime) == int((src / "model.bin").stat().st_mtime)
        assert not list(got.rglob("*.labdeck-part"))


def test_collect_a_glob_and_distribute_a_folder(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    (folder / "empty" / "deeper").mkdir(parents=True)
    remote_root = tmp_path / "remote"
    put = run_transfer(engine, TransferRequest(Direction.PUT, [str(folder)], f"{remote_root}/${{node.name}}",
                                               "tag:lab"))
    assert put.ok, put.results
    for sshd in nodes:
        assert (remote_root / sshd.name / "inputs" / "sub" / "b.txt").read_text() == "b"
        assert (remote_root / sshd.name / "inputs" / "empty" / "deeper").is_dir()
        (remote_root / sshd.name / "inputs" / "c.log").write_text("c")

    dest = tmp_path / "back"
    get = run_transfer(engine, TransferRequest(
        Direction.GET, [f"{remote_root}/${{node.name}}/inputs/*.txt", f"{remote_root}/${{node.name}}/in*/s?b"],
        str(dest), "tag:lab"))
    assert get.ok, get.results
    for sshd in nodes:
        names = sorted(p.relative_to(dest / sshd.name).as_posix() for p in (dest / sshd.name).rglob("*") if p.is_file())
        assert names == ["a.txt", "sub/b.txt"]


def test_a_missing_remote_path_fails_that_node_with_a_clear_message(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    (tmp_path / nodes[0].name).mkdir()
    (tmp_path / nodes[0].name / "out.txt").write_text("ok")
    transfer = run_transfer(engine, TransferRequest(
        Direction.GET, [f"{tmp_path}/${{node.name}}/out.txt"], str(tmp_path / "dest"), "tag:lab"))
    assert not transfer.ok
    assert transfer.results[nodes[0].name].ok
    error = transfer.results[nodes[1].name].error
    assert "does not exist" in error and nodes[1].name in error


def test_a_job_puts_inputs_runs_and_gets_results_per_node(engine, sshd_nodes, tmp_path):
    from labdeck.core.models import Job, JobOption, Step, StepKind
    from labdeck.core.status import NodeRunStatus, RunStatus
    from labdeck.store.jobfile import job_from_yaml, job_to_yaml

    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for sshd in nodes:
        (inputs / f"{sshd.name}.csv").write_text(f"shard of {sshd.name}\n")
    work = tmp_path / "work"
    job = job_from_yaml(f"""
name: shards
targets: tag:lab
options: [{{name: tag, default: v1}}]
steps:
  - put: {inputs}/${{node.name}}.csv
    to: {work}/${{node.name}}/in
  - command: cd {work}/$LABDECK_NODE && mkdir -p out && tr a-z A-Z < in/$LABDECK_NODE.csv > out/result.txt
  - get: {work}/${{node.name}}/out/*.txt
    to: {tmp_path}/results/${{option.tag}}
""")
    assert job_from_yaml(job_to_yaml(job)).steps == job.steps
    engine.catalog.add_job(job)
    run = engine.start_job("shards", {"tag": "v2"})
    assert engine.wait(run.id, 120)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    for nr in engine.catalog.node_runs(run.id):
        assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
        result = tmp_path / "results" / "v2" / nr.node_name / "result.txt"
        assert result.read_text() == f"SHARD OF {nr.node_name.upper()}\n"
        log = open(nr.log_path).read()
        assert "step 1: put" in log and "step 3: get" in log and "sha256" in log

    missing = Job(name="missing", targets="tag:lab", options=[JobOption("tag")],
                  steps=[Step(kind=StepKind.GET, source=f"{work}/nothing-here", destination=str(tmp_path))])
    engine.catalog.add_job(missing)
    run = engine.start_job("missing")
    assert engine.wait(run.id, 60)
    for nr in engine.catalog.node_runs(run.id):
        assert nr.status is NodeRunStatus.FAILED
        assert "step 1 (get) failed" in nr.message and "does not exist" in nr.message


def test_this_computer_takes_part_in_put_and_get(engine, tmp_path):
    src = tmp_path / "input.bin"
    src.write_bytes(os.urandom(3_000_000))
    os.chmod(src, 0o640)
    put = run_transfer(engine, TransferRequest(Direction.PUT, [str(src)], str(tmp_path / "local-node"),
                                               "this-computer"))
    assert put.ok, put.results
    copy = tmp_path / "local-node" / "input.bin"
    assert sha256_file(copy) == sha256_file(src) and copy.stat().st_mode & 0o777 == 0o640
    get = run_transfer(engine, TransferRequest(Direction.GET, [f"{tmp_path}/local-node/*.bin"], str(tmp_path / "back"),
                                               "this-computer"))
    assert get.ok, get.results
    assert sha256_file(tmp_path / "back" / "this-computer" / "input.bin") == sha256_file(src)


def test_max_parallel_limits_the_nodes_moving_files_at_once(engine, sshd_nodes, tmp_path):
    from labdeck.core.transfers import TransferNodeFinished, TransferProgress

    nodes = sshd_nodes(4)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    src = tmp_path / "input.bin"
    src.write_bytes(os.urandom(20_000_000))
    moving: set[str] = set()
    most = [0]

    def watch(event) -> None:
        if isinstance(event, TransferProgress):
            moving.add(event.node)
            most[0] = max(most[0], len(moving))
        elif isinstance(event, TransferNodeFinished):
            moving.discard(event.node)

    engine.bus.subscribe(watch)
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(src)], f"{tmp_path}/${{node.name}}", "tag:lab",
                                                    max_parallel=2))
    assert transfer.ok, transfer.results
    assert most[0] == 2


def test_many_small_files_arrive_whole_both_ways(engine, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    tree = tmp_path / "tree"
    expected = {}
    for i in range(120):
        path = tree / f"d{i % 7}" / f"sub{i % 3}" / f"f{i:03d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(i * 997))
        expected[path.relative_to(tmp_path).as_posix()] = sha256_file(path)
    put = run_transfer(engine, TransferRequest(Direction.PUT, [str(tree)], f"{tmp_path}/remote/${{node.name}}",
                                               "tag:lab"))
    assert put.ok, [r.error for r in put.results.values()]
    get = run_transfer(engine, TransferRequest(Direction.GET, [f"{tmp_path}/remote/${{node.name}}/tree"],
                                               str(tmp_path / "back"), "tag:lab"))
    assert get.ok, [r.error for r in get.results.values()]
    for sshd in nodes:
        for root in (tmp_path / "remote" / sshd.name, tmp_path / "back" / sshd.name):
            got = {p.relative_to(root).as_posix(): sha256_file(p) for p in root.rglob("*") if p.is_file()}
            assert got == expected
