"""Node names are held to "letters, digits, '-', '_' or '.'" exactly; a node an older LabDeck let in
under a name like '..' is refused with a clear message instead of making `get` write outside
LOCAL_DIR; and `get`'s per-node folder check stands on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.models import Node, Transport
from labdeck.core.names import check_node_name
from labdeck.core.transfers import Direction, node_folder
from labdeck.engine.transfers import TransferRequest


@pytest.mark.parametrize("name", [".", "..", "a/b", "a\\b", "x\ny", "tab\tname", "a b", "-rf", "x&y", "gpu:1",
                                  "all", "", "n" * 65, "caf\u00e9", "\x1b[31mred"])
def test_names_outside_the_rule_are_refused_with_the_rule(name):
    with pytest.raises(InvalidInput, match="letters, digits, '-', '_' or '.'"):
        check_node_name(name)


@pytest.mark.parametrize("name", ["gpu-01", "node_1.lab", "a", "N" * 64, "10.0.0.21", "_x"])
def test_names_inside_the_rule_are_accepted(name):
    check_node_name(name)


def test_cli_refuses_a_node_named_dot_dot_in_one_line(data_dir):
    result = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "node", "add", "..",
                             "--transport", "local"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid node name '..'" in result.stderr, result.stderr


@pytest.mark.parametrize("bad", ["..", "."])
def test_get_refuses_a_catalog_node_with_an_old_bad_name(engine, tmp_path, bad):
    engine.catalog.add_node(Node(name=bad, transport=Transport.LOCAL))  # as an older LabDeck let it in
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "result.txt").write_text("data")
    local_dir = tmp_path / "collect" / "here"
    local_dir.mkdir(parents=True)
    with pytest.raises(InvalidInput, match="no longer accepts.*labdeck node remove"):
        engine.transfers.start(TransferRequest(Direction.GET, [str(tmp_path / "src" / "result.txt")], str(local_dir),
                                               "all"))
    assert not (tmp_path / "collect" / "result.txt").exists()
    assert list(local_dir.iterdir()) == []
    engine.nodes.remove(bad)  # and it can still be removed
    assert bad not in [n.name for n in engine.catalog.list_nodes()]


@pytest.mark.parametrize("bad", ["..", ".", "", "a/..", "../x", "x\\y", "C:x"])
def test_the_per_node_folder_stays_directly_inside_local_dir_whatever_the_name(tmp_path, bad):
    with pytest.raises(InvalidInput, match="cannot be a folder of its own"):
        node_folder(tmp_path, bad)
    assert node_folder(tmp_path, "gpu-01") == tmp_path / "gpu-01"


def test_a_symlinked_node_folder_pointing_elsewhere_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "gpu1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidInput):
        node_folder(tmp_path / "local", "gpu1")
    assert Path(tmp_path / "local" / "gpu2") == node_folder(tmp_path / "local", "gpu2")
