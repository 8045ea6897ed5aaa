"""Names that come from a node can never place a file outside the local destination, and
transfer paths take ${node.name} and ${option.X} verbatim."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.transfers import (
    FileOutcome,
    FileResult,
    RemoteEntry,
    safe_local_path,
    safe_relative_parts,
    substitute_path,
)
from labdeck.engine.transfer_node import NodeProgress, get_from_node


@pytest.mark.parametrize("name", ["..", "../x", "a/../../b", "/etc/passwd", "a/..", "..\\..\\x", "C:evil", "c:\\x",
                                  "", "a/\x00b"])
def test_names_that_could_leave_the_folder_are_refused(name, tmp_path):
    with pytest.raises(InvalidInput):
        safe_local_path(tmp_path, name)


def test_plain_relative_names_stay_inside(tmp_path):
    assert safe_local_path(tmp_path, "results/./a.txt") == tmp_path / "results" / "a.txt"
    assert safe_relative_parts("a/b..c/.hidden") == ["a", "b..c", ".hidden"]


class LyingNode:
    """Plays an SFTP server that lists names no POSIX file system can hold ('..', a name with
    a '/' in it) — only a crafted or broken server sends those, so a real sshd cannot."""
    node = "liar"

    def __init__(self, names: list[str]):
        self.names = names
        self.downloads: list[Path] = []

    def stat(self, path):
        if path == "results":
            return RemoteEntry(path, 0, 0, 0o040755, is_dir=True)
        return RemoteEntry(path, 1, 0, 0o100644)

    def listdir(self, path):
        return [RemoteEntry(f"{path}/{name}", 1, 0, 0o100644) for name in self.names]

    def download_file(self, entry, local, progress, cancel):
        self.downloads.append(local)
        return FileResult(str(local), entry.path, 1, FileOutcome.COPIED)

    def close(self):
        pass


@pytest.mark.parametrize("name", ["..", "/etc/cron.d/x/.."])
def test_a_crafted_listing_of_parent_names_writes_nothing(name, tmp_path):
    node = LyingNode([name])
    result = get_from_node(node, ["results"], tmp_path / "dest" / "liar", NodeProgress("liar"), threading.Event())
    assert not result.ok and "refusing" in result.error
    assert node.downloads == []


@pytest.mark.parametrize("name", ["../../../tmp/evil", "/tmp/evil", "sub/../../evil"])
def test_a_crafted_listing_with_paths_lands_inside_the_destination(name, tmp_path):
    node = LyingNode([name, "fine.txt"])
    dest = tmp_path / "dest" / "liar"
    result = get_from_node(node, ["results"], dest, NodeProgress("liar"), threading.Event())
    assert result.ok, result.error
    assert len(node.downloads) == 2
    assert all(p.resolve().is_relative_to(dest.resolve()) for p in node.downloads), node.downloads


def test_substitution_is_verbatim_and_checks_option_names():
    assert substitute_path("/d/${node.name}/${option.x}", "n1", {"x": "$(id)"}) == "/d/n1/$(id)"
    with pytest.raises(InvalidInput, match="no such option"):
        substitute_path("${option.nope}", "n1", {"x": "1"})
