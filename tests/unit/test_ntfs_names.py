"""``get`` onto a Windows disk: names NTFS refuses or changes get a reversible local form, names
that differ only in case never overwrite each other, and the result says which names changed;
a collected read-only file can be collected again (and a file open elsewhere says what to do)."""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from labdeck.core.ntfs_names import ntfs_local_names, ntfs_safe_name, original_name
from labdeck.engine.transfer_node import NodeProgress, get_from_node
from labdeck.executors import transfer_base
from labdeck.executors.local.transfer import LocalTransfer

NAMES = [
    ("CON", "%43ON"),
    ("con.txt", "%63on.txt"),
    ("aux.txt", "%61ux.txt"),
    ("LPT1.log.gz", "%4CPT1.log.gz"),
    ("nul", "%6Eul"),
    ("a:b", "a%3Ab"),
    ('w*h?a"t<i>s|', "w%2Ah%3Fa%22t%3Ci%3Es%7C"),
    ("back\\slash", "back%5Cslash"),
    ("tab\there", "tab%09here"),
    ("trailing.", "trailing%2E"),
    ("trailing. ", "trailing%2E%20"),
    ("100%41", "100%2541"),            # an existing escape-like sequence is escaped itself
    ("100% done", "100% done"),        # a lone % needs nothing
    ("CONSOLE.txt", "CONSOLE.txt"),    # only the exact device names are reserved
    ("한국어 Größe.txt", "한국어 Größe.txt"),
    ("plain.txt", "plain.txt"),
]


@pytest.mark.parametrize(("name", "safe"), NAMES)
def test_names_windows_refuses_get_a_reversible_form(name, safe):
    assert ntfs_safe_name(name) == safe
    assert original_name(safe) == name


def test_case_collisions_get_a_numbered_suffix_in_a_stable_order():
    names = ntfs_local_names(["out/a.txt", "out/A.txt", "Out/x", "out/a.TXT", "b"])
    assert {k: v.local for k, v in names.items()} == {
        "Out/x": "Out/x", "out/A.txt": "out (2)/A.txt", "out/a.TXT": "out (2)/a (2).TXT",
        "out/a.txt": "out (2)/a (3).txt", "b": "b"}
    assert [k for k, v in names.items() if v.changed] == ["out/A.txt", "out/a.TXT", "out/a.txt"]


def make_remote_folder(root: Path) -> Path:
    folder = root / "node" / "results"
    folder.mkdir(parents=True)
    for name, text in [("CON", "device"), ("aux.txt", "aux"), ("a:b", "stream"), ("q?.txt", "question"),
                       ("trail.", "dot"), ("A.txt", "upper"), ("a.txt", "lower"), ("ok.txt", "ok")]:
        (folder / name).write_text(text)
    return folder


def test_get_onto_a_windows_disk_keeps_every_file_and_reports_renames(tmp_path):
    folder = make_remote_folder(tmp_path)
    dest = tmp_path / "dest" / "n1"
    result = get_from_node(LocalTransfer("n1"), [str(folder)], dest, NodeProgress("n1"), threading.Event(),
                           ntfs_names=True)
    assert result.ok, result.error
    written = {p.name: p.read_text() for p in (dest / "results").iterdir()}
    assert written == {"%43ON": "device", "%61ux.txt": "aux", "a%3Ab": "stream", "q%3F.txt": "question",
                       "trail%2E": "dot", "A.txt": "upper", "a (2).txt": "lower", "ok.txt": "ok"}
    assert sorted(result.renamed) == sorted([
        ("results/CON", "results/%43ON"), ("results/aux.txt", "results/%61ux.txt"), ("results/a:b", "results/a%3Ab"),
        ("results/q?.txt", "results/q%3F.txt"), ("results/trail.", "results/trail%2E"),
        ("results/a.txt", "results/a (2).txt")])
    assert result.as_dict()["renamed"][0].keys() == {"remote", "local"}
    assert result.renamed_text().startswith("6 name(s) changed for Windows: ")
    # a second get finds every file under the same local name: nothing is copied again
    again = get_from_node(LocalTransfer("n1"), [str(folder)], dest, NodeProgress("n1"), threading.Event(),
                          ntfs_names=True)
    assert again.ok and {str(f.outcome) for f in again.files} == {"skipped"}


REAL_REPLACE = os.replace


def windows_replace(source, target):
    """os.replace as Windows does it: a read-only target is refused (Linux renames over it).
    A stand-in for the Windows rule, which the test below checks for real on Windows."""
    if os.path.exists(target) and not os.stat(target).st_mode & stat.S_IWRITE:
        raise PermissionError(errno.EACCES, "Access is denied", str(target))
    return REAL_REPLACE(source, target)


def collect_read_only_twice(tmp_path: Path) -> tuple[Path, Path]:
    remote = tmp_path / "node" / "model.bin"
    remote.parent.mkdir()
    remote.write_bytes(b"first")
    remote.chmod(0o444)
    dest = tmp_path / "dest"
    first = get_from_node(LocalTransfer("n1"), [str(remote)], dest, NodeProgress("n1"), threading.Event())
    assert first.ok, first.error
    remote.chmod(0o644)
    remote.write_bytes(b"second, longer")
    remote.chmod(0o444)
    return remote, dest


def test_a_read_only_file_collected_again_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer_base.os, "replace", windows_replace, raising=True) if sys.platform != "win32" \
        else None
    remote, dest = collect_read_only_twice(tmp_path)
    second = get_from_node(LocalTransfer("n1"), [str(remote)], dest, NodeProgress("n1"), threading.Event())
    assert second.ok, second.error
    assert (dest / "model.bin").read_bytes() == b"second, longer"
    assert not (dest / "model.bin").stat().st_mode & stat.S_IWUSR  # still read-only, as on the node


def test_a_file_open_in_another_program_says_to_close_it(tmp_path, monkeypatch):
    remote, dest = collect_read_only_twice(tmp_path)
    if sys.platform != "win32":  # Windows' sharing violation, as os.replace raises it there
        def refuse(source, target):
            exc = PermissionError(errno.EACCES, "The process cannot access the file because it is being used "
                                                "by another process", str(target))
            exc.winerror = 32
            raise exc
        monkeypatch.setattr(transfer_base.os, "replace", refuse)
    with open(dest / "model.bin", "rb"):  # on Windows this handle is what refuses the replace
        result = get_from_node(LocalTransfer("n1"), [str(remote)], dest, NodeProgress("n1"), threading.Event())
    assert not result.ok
    assert "close it in the program that has it open and retry" in result.error
    assert (dest / "model.bin.labdeck-part").read_bytes() == b"second, longer"  # nothing lost
