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
