"""Transfers that go wrong, against real OpenSSH nodes: sshd stopped midway (the retry after a
restart resumes and ends with the right hash), a local disk that fills up (a real 5 MiB tmpfs),
and remote names that try to write outside the destination folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

from labdeck.core.transfers import Direction, FileOutcome, TransferProgress
from labdeck.engine.transfers import TransferRequest
from labdeck.executors.transfer_backends import backend_for
from labdeck.executors.transfer_base import TransferError
from tests.conftest import add_sshd_node
from tests.integration.test_transfers import remote_sha256, run_transfer, sha256_file

SIZE = 60_000_000


def stop_server_at(engine, server, fraction: float) -> list[int]:
    """Stop the node's server (sshd, smbd, the WS-Man server: anything with ``stop()``) from
    inside the transfer's own progress callback once ``fraction`` of the bytes moved: the cut
    lands midway however fast the copy runs."""
    stopped_at: list[int] = []

    def on_event(event) -> None:
        if isinstance(event, TransferProgress) and not stopped_at and event.bytes_total \
                and event.bytes_done >= fraction * event.bytes_total:
            stopped_at.append(event.bytes_done)
            server.stop()

    engine.bus.subscribe(on_event)
    return stopped_at


@pytest.mark.parametrize("direction", [Direction.PUT, Direction.GET])
def test_transfer_cut_by_a_stopped_sshd_resumes_after_restart(engine, sshd_node, tmp_path, direction):
    add_sshd_node(engine, sshd_node)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(SIZE))
    if direction is Direction.PUT:
        request = TransferRequest(direction, [str(source)], str(tmp_path / "remote"), sshd_node.name)
        final = tmp_path / "remote" / "big.bin"
    else:
        request = TransferRequest(direction, [str(source)], str(tmp_path / "dest"), sshd_node.name)
        final = tmp_path / "dest" / sshd_node.name / "big.bin"
    part = final.with_name(f"big.bin.{sshd_node.name}.labdeck-part" if direction is Direction.PUT
                           else "big.bin.labdeck-part")
    stopped_at = stop_server_at(engine, sshd_node, 0.2)

    first = run_transfer(engine, request)
    assert stopped_at, "the transfer ended before sshd could be stopped"
    result = first.results[sshd_node.name]
    assert not result.ok and "connection" in result.error and "retry to resume" in result.error
    assert not final.exists()
    assert 0 < part.stat().st_size < SIZE

    sshd_node.start()  # same port, same host key
    second = engine.transfers.retry(first.id)
    assert engine.transfers.wait(second.id, 120)
    assert second.ok, second.results
    (file_result,) = second.results[sshd_node.name].files
    assert second.ok and file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(final) == sha256_file(source) == file_result.sha256
    if direction is Direction.PUT:
        assert remote_sha256(sshd_node, str(final)) == file_result.sha256
    assert not part.exists()


def test_resume_restarts_when_the_part_file_does_not_match(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(2_000_000))
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / f"data.bin.{sshd_node.name}.labdeck-part").write_bytes(b"not the same prefix" * 1000)
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], str(tmp_path / "remote"),
                                                    sshd_node.name))
    (file_result,) = transfer.results[sshd_node.name].files
    assert transfer.ok and file_result.outcome is FileOutcome.COPIED
    assert sha256_file(tmp_path / "remote" / "data.bin") == sha256_file(source)


@pytest.fixture
def small_disk(tmp_path):
    """A real 5 MiB tmpfs (needs root, as CI runs the tests)."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a 5 MiB tmpfs and needs root (CI runs the tests as root)", pytrace=False)
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_local_disk_gives_a_clear_error_and_no_half_file(engine, sshd_node, tmp_path, small_disk):
    add_sshd_node(engine, sshd_node)
    remote = tmp_path / "results"
    remote.mkdir()
    (remote / "small.txt").write_text("fits")
    (remote / "zbig.bin").write_bytes(os.urandom(12_000_000))
    transfer = run_transfer(engine, TransferRequest(Direction.GET, [str(remote)], str(small_disk), sshd_node.name))

    result = transfer.results[sshd_node.name]
    assert not result.ok
    assert "local disk full" in result.error and "free space" in result.error
    landed = small_disk / sshd_node.name / "results"
    assert (landed / "small.txt").read_text() == "fits"
    assert not (landed / "zbig.bin").exists()
    assert "\n" not in result.error


def test_remote_names_cannot_write_outside_the_destination(engine, sshd_node, tmp_path):
    assert engine.data_dir.is_relative_to(tmp_path)
    add_sshd_node(engine, sshd_node)
    remote = tmp_path / "node-files"
    (remote / "results").mkdir(parents=True)
    (remote / "results" / "ok.txt").write_text("ok")
    (remote / "secret.txt").write_text("outside the results folder")
    dest = tmp_path / "dest"

    # A glob that climbs out with '..' still lands every match inside DEST/<node>.
    climbing = run_transfer(engine, TransferRequest(
        Direction.GET, [f"{remote}/results/../../node-files/*.txt"], str(dest), sshd_node.name))
    assert climbing.ok, climbing.results
    assert (dest / sshd_node.name / "secret.txt").exists()

    # A name that is a path on Windows ("..\..\x") is refused, not written.
    (remote / "results" / "..\\..\\evil.txt").write_text("evil")
    refused = run_transfer(engine, TransferRequest(Direction.GET, [f"{remote}/results"], str(dest), sshd_node.name))
    assert not refused.results[sshd_node.name].ok
    assert "refusing" in refused.results[sshd_node.name].error
    (remote / "results" / "..\\..\\evil.txt").unlink()

    # A symlink already in the destination cannot redirect the write elsewhere.
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / sshd_node.name / "results").symlink_to(outside)
    redirected = run_transfer(engine, TransferRequest(Direction.GET, [f"{remote}/results"], str(dest), sshd_node.name))
    assert not redirected.results[sshd_node.name].ok
    assert "outside" in redirected.results[sshd_node.name].error
    assert list(outside.iterdir()) == []
    written = {p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(engine.data_dir)}
    assert all(p.is_relative_to(dest) or p.is_relative_to(remote) for p in written), sorted(map(str, written))


def test_a_remote_link_to_the_root_is_not_followed(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node)
    remote = tmp_path / "results"
    remote.mkdir()
    (remote / "data.txt").write_text("data")
    (remote / "root").symlink_to("/")
    transfer = run_transfer(engine, TransferRequest(Direction.GET, [str(remote)], str(tmp_path / "d"), sshd_node.name))
    assert transfer.ok, transfer.results
    got = tmp_path / "d" / sshd_node.name / "results"
    assert sorted(p.name for p in got.iterdir()) == ["data.txt"]


@pytest.fixture
def node_without_python(sshd_node, tmp_path):
    """The node's commands see a PATH with the usual tools but no python3 (as on a minimal
    install), so transfers take the ``cat`` + hash-afterwards path."""
    bin_dir = tmp_path / "bin-without-python"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "head", "tail", "openssl", "sha256sum", "rm", "mv"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    sshd_node.extra_env = {"PATH": str(bin_dir)}
    sshd_node.stop()
    sshd_node.start()
    probe = subprocess.run([*sshd_node.ssh_args(), "command -v python3 || echo none"], capture_output=True, text=True)
    assert probe.stdout.strip() == "none", probe
    return sshd_node


def test_a_node_without_python_gets_verified_and_resumed_uploads(engine, node_without_python, tmp_path):
    add_sshd_node(engine, node_without_python)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(3_000_000))
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / f"data.bin.{node_without_python.name}.labdeck-part").write_bytes(source.read_bytes()[:1_000_000])
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], str(remote),
                                                    node_without_python.name))
    (file_result,) = transfer.results[node_without_python.name].files
    assert transfer.ok and file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(remote / "data.bin") == sha256_file(source) == file_result.sha256


def test_a_node_without_python_gets_verified_and_resumed_downloads(engine, node_without_python, tmp_path):
    add_sshd_node(engine, node_without_python)
    source = tmp_path / "results.bin"
    source.write_bytes(os.urandom(3_000_000))
    dest = tmp_path / "dest" / node_without_python.name
    dest.mkdir(parents=True)
    (dest / "results.bin.labdeck-part").write_bytes(source.read_bytes()[:1_200_000])
    transfer = run_transfer(engine, TransferRequest(Direction.GET, [str(source)], str(tmp_path / "dest"),
                                                    node_without_python.name))
    (file_result,) = transfer.results[node_without_python.name].files
    assert transfer.ok and file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(dest / "results.bin") == sha256_file(source) == file_result.sha256


@pytest.mark.parametrize("size", [8_000_000, 20_000_000], ids=["cat-writer", "python-writer"])
def test_a_full_node_disk_is_a_clear_error_and_the_part_is_kept(engine, sshd_node, tmp_path, small_disk, size):
    add_sshd_node(engine, sshd_node)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(size))
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], str(small_disk), sshd_node.name))
    result = transfer.results[sshd_node.name]
    assert not transfer.ok
    assert "No space left on device" in result.error and "disk full" in result.error
    assert not (small_disk / "big.bin").exists()
    assert (small_disk / f"big.bin.{sshd_node.name}.labdeck-part").stat().st_size > 0


def test_a_local_file_that_cannot_be_read_fails_before_the_node_starts_writing(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node)
    backend = backend_for(engine.pool, engine.catalog.get_node(sshd_node.name))
    not_a_file = tmp_path / "a-folder"  # opening it fails as an unreadable file would
    not_a_file.mkdir()
    remote = tmp_path / "remote" / "x.bin"
    with pytest.raises(TransferError, match="cannot read"):
        backend.upload_file(not_a_file, str(remote), lambda _n: None, threading.Event())
    assert not list(remote.parent.glob("x.bin*.labdeck-part"))
