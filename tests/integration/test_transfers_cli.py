"""``labdeck put`` and ``labdeck get`` as a user runs them: a real process against real sshd
nodes, JSON results, exit codes, one-line errors and a progress line only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess

import pytest

from tests.support.cli import LABDECK, add_node, labdeck
from tests.support.transfers import sha256_file


@pytest.mark.slow
def test_put_then_get_with_json_results(data_dir, sshd_nodes, tmp_path):
    nodes = sshd_nodes(3)
    for sshd in nodes:
        add_node(data_dir, sshd, "--tag", "lab")
    src = tmp_path / "input.dat"
    src.write_bytes(os.urandom(3_000_000))
    remote = tmp_path / "remote"

    put = labdeck(data_dir, "put", str(src), "--targets", "tag:lab", "--to", f"{remote}/${{node.name}}", "--json")
    assert put.returncode == 0, put.stderr
    report = json.loads(put.stdout)
    assert report["ok"] and sorted(n["node"] for n in report["nodes"]) == sorted(s.name for s in nodes)
    for node in report["nodes"]:
        assert node["files"][0]["sha256"] == sha256_file(src)
        assert sha256_file(remote / node["node"] / "input.dat") == sha256_file(src)

    get = labdeck(data_dir, "get", f"{remote}/${{node.name}}/*.dat", "--targets", "tag:lab", "--to",
                  str(tmp_path / "back"), "--json")
    assert get.returncode == 0, get.stderr
    for sshd in nodes:
        assert sha256_file(tmp_path / "back" / sshd.name / "input.dat") == sha256_file(src)


@pytest.mark.slow
def test_a_failing_node_gives_exit_code_one_and_a_one_line_reason(data_dir, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_node(data_dir, sshd, "--tag", "lab")
    (tmp_path / nodes[0].name).mkdir()
    (tmp_path / nodes[0].name / "out.txt").write_text("ok")
    result = labdeck(data_dir, "get", f"{tmp_path}/${{node.name}}/out.txt", "--targets", "tag:lab",
                     "--to", str(tmp_path / "dest"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert f"  {nodes[0].name}: ok, 1 file(s) copied, 0 already there" in result.stderr
    failed = [line for line in lines if line.startswith(f"  {nodes[1].name}: failed: ")]
    assert len(failed) == 1 and "does not exist" in failed[0]


def test_bad_input_is_one_clear_line(data_dir, tmp_path):
    missing = labdeck(data_dir, "put", str(tmp_path / "nope.bin"), "--targets", "all", "--to", "x")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"labdeck: error: {tmp_path / 'nope.bin'} does not exist"
    unknown = labdeck(data_dir, "get", "x", "--targets", "no-such-node", "--to", str(tmp_path))
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "no-such-node" in unknown.stderr


@pytest.mark.slow
def test_progress_is_drawn_on_a_terminal_only(data_dir, sshd_node, tmp_path):
    add_node(data_dir, sshd_node)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(40_000_000))
    master, slave = pty.openpty()
    proc = subprocess.Popen([*LABDECK, "--data-dir", str(data_dir), "put", str(src), "--targets", sshd_node.name,
                             "--to", str(tmp_path / "remote")], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(60) == 0
    os.close(master)
    text = seen.decode(errors="replace")
    assert "\r" in text and "%" in text and "nodes done" in text
    assert f"{sshd_node.name}: ok, 1 file(s) copied" in text

    piped = labdeck(data_dir, "put", str(src), "--targets", sshd_node.name, "--to", str(tmp_path / "remote2"))
    assert piped.returncode == 0 and "\r" not in piped.stderr and "%" not in piped.stderr


def _labdeck_at_home(data_dir, home, *args) -> subprocess.CompletedProcess:
    """labdeck with HOME (this computer's login folder) set to a folder the test can watch."""
    return subprocess.run([*LABDECK, "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=120, cwd=home, env=os.environ | {"HOME": str(home), "PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize(("args", "says"), [
    (["put", "{file}", "--to", ""], "argument --to: an empty remote folder names nothing: give the folder on each "
                                    "node to copy into (. for the login folder)"),
    (["put", "{file}", "--to", "  "], "argument --to: an empty remote folder names nothing"),
    (["put", "", "--to", "in"], "argument SRC: an empty local path names nothing: give a local file or folder"),
    (["get", "", "--to", "{dest}"], "argument REMOTE: an empty remote path names nothing: give a remote file, "
                                    "folder or glob"),
    (["get", "out.txt", "--to", ""], "argument --to: an empty local folder names nothing: give the folder to "
                                     "collect into"),
    (["put", "{file}", "--to", "in", "-p", "epoch=3"], "-p epoch: no path uses ${option.epoch}"),
    (["get", "out/${option.ep}.txt", "--to", "{dest}", "-p", "eps=1"],
     "-p eps: no path uses ${option.eps} (the paths use: ep)"),
    (["put", "{file}", "--to", "in", "-p", "a b=1"], "-p a b: a name paths can use as ${option.NAME} is letters"),
    (["get", "out.txt", "--to", "{file}"], "--to {file} is a file: give a folder to collect into (each node gets a "
                                           "subfolder)"),
])
def test_empty_paths_and_unused_values_are_refused_before_anything_moves(data_dir, tmp_path, args, says):
    # Before: `put FILE --to ""` copied FILE into the login folder, `put ""` copied the whole current
    # folder, `get ""` listed the login folder and failed per node, and -p typos were dropped silently.
    home = tmp_path / "home"
    home.mkdir()
    (home / "out.txt").write_text("result")
    source = tmp_path / "input.txt"
    source.write_text("data")
    dest = tmp_path / "dest"
    filled = [a.format(file=source, dest=dest) if "{" in a and "${" not in a else a for a in args]
    before = sorted(p.name for p in home.rglob("*"))
    result = _labdeck_at_home(data_dir, home, *filled, "--targets", "this-computer")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and says.replace("{file}", str(source)) in result.stderr, result.stderr
    assert sorted(p.name for p in home.rglob("*")) == before
    assert not dest.exists()


def test_the_engine_refuses_empty_paths_from_any_caller(engine, tmp_path):
    """The app's Transfers page and a daemon client reach the engine without the CLI's flag checks."""
    from labdeck.core.errors import InvalidInput
    from labdeck.core.transfers import Direction
    from labdeck.engine.transfers import TransferRequest
    source = tmp_path / "input.txt"
    source.write_text("data")
    with pytest.raises(InvalidInput, match="an empty destination names nothing"):
        engine.transfers.start(TransferRequest(Direction.PUT, [str(source)], " ", "this-computer"))
    with pytest.raises(InvalidInput, match="an empty source path names nothing"):
        engine.transfers.start(TransferRequest(Direction.GET, [""], str(tmp_path / "dest"), "this-computer"))
    assert engine.transfers.list() == [] and not (tmp_path / "dest").exists()
