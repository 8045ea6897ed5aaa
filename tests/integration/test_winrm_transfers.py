"""Files to and from Windows nodes over WinRM, through the WS-Management test server and
pywinrm's real client (the PowerShell transfer helpers are emulated by name, see
tests/support/wsman_transfer_emulation.py; their text is unit-tested in tests/unit): a
multi-MB file and a folder both ways, verified on the node's disk; a run across an SSH node and
a WinRM node; a node that stops midway and a cancel, both resumed; transfer steps in a job;
collect path rules; a missing file; and ``labdeck put``/``get``."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from labdeck.core.models import Job, Step, StepKind
from labdeck.core.status import NodeRunStatus
from labdeck.core.transfers import Direction, FileOutcome, RemoteEntry, TransferProgress
from labdeck.engine.transfers import TransferRequest
from labdeck.executors.transfer_base import TransferError
from tests.conftest import add_sshd_node, add_winrm_node
from tests.support.cli import add_winrm, labdeck
from tests.support.runs import run_job
from tests.support.transfers import closed_port, run_transfer, sha256_file, stop_server_at
from tests.support.wsman_server import WsmanServer

SIZE = 12_000_000


def profile(server) -> Path:
    """The emulated node's %USERPROFILE% (relative remote paths land here)."""
    return server.root / "profile"


def make_folder(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.csv").write_text("x,y\n1,2\n")
    (root / "sub" / "model.bin").write_bytes(os.urandom(700_000))
    (root / "sub" / "deeper" / "notes ü'&.txt").write_text("quotes and unicode in the name")
    os.utime(root / "a.csv", (1_650_000_000, 1_650_000_000))
    return root


def files_under(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_multi_megabyte_file_and_a_folder_go_to_a_winrm_node_and_come_back_verified(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    big = tmp_path / "input.bin"
    big.write_bytes(os.urandom(SIZE))
    os.utime(big, (1_700_000_000, 1_700_000_000))
    folder = make_folder(tmp_path / "dataset")

    put = run_transfer(engine, TransferRequest(Direction.PUT, [str(big), str(folder)], "inbox", "win1"))
    assert put.ok, put.results
    landed = profile(wsman_server) / "inbox"
    assert sha256_file(landed / "input.bin") == sha256_file(big)  # hashed on the node's disk, not by LabDeck
    assert int((landed / "input.bin").stat().st_mtime) == 1_700_000_000
    assert files_under(landed / "dataset") == files_under(folder)
    assert (landed / "dataset" / "empty").is_dir()
    assert not list(landed.rglob("*.labdeck-part"))
    results = {Path(f.local).name: f for f in put.results["win1"].files}
    assert results["input.bin"].outcome is FileOutcome.COPIED and results["input.bin"].sha256 == sha256_file(big)

    again = run_transfer(engine, TransferRequest(Direction.PUT, [str(big), str(folder)], "inbox", "win1"))
    assert {f.outcome for f in again.results["win1"].files} == {FileOutcome.SKIPPED}

    back = run_transfer(engine, TransferRequest(Direction.GET, ["inbox"], str(tmp_path / "back"), "win1"))
    assert back.ok, back.results
    got = tmp_path / "back" / "win1" / "inbox"
    assert sha256_file(got / "input.bin") == sha256_file(big)
    assert int((got / "input.bin").stat().st_mtime) == 1_700_000_000
    assert int((got / "dataset" / "a.csv").stat().st_mtime) == 1_650_000_000
    assert files_under(got / "dataset") == files_under(folder)

    absolute = run_transfer(engine, TransferRequest(Direction.PUT, [str(folder / "a.csv")], "C:/lab/in", "win1"))
    assert absolute.ok, absolute.results
    assert (wsman_server.root / "C" / "lab" / "in" / "a.csv").read_text() == "x,y\n1,2\n"
    assert absolute.results["win1"].files[0].remote == "C:/lab/in/a.csv"


def test_an_ntlm_node_gets_and_returns_a_file_over_sealed_messages(engine, tmp_path):
    server = WsmanServer(tmp_path / "node", auth="negotiate").start()
    try:
        add_winrm_node(engine, server, auth="ntlm")
        data = tmp_path / "sealed.bin"
        data.write_bytes(os.urandom(SIZE // 2))
        put = run_transfer(engine, TransferRequest(Direction.PUT, [str(data)], "in", "win1"))
        assert put.ok, put.results
        assert sha256_file(profile(server) / "in" / "sealed.bin") == sha256_file(data)
        back = run_transfer(engine, TransferRequest(Direction.GET, ["in/sealed.bin"], str(tmp_path / "back"), "win1"))
        assert back.ok, back.results
        assert sha256_file(tmp_path / "back" / "win1" / "sealed.bin") == sha256_file(data)
        sends = [e for e in list(server.exchanges) if e.action == "send"]
        assert sends and all(e.encrypted for e in sends)
    finally:
        server.stop()


def test_a_node_whose_smb_share_does_not_answer_moves_its_files_through_winrm(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server, smb=True, smb_port=closed_port(), smb_home="C:\\Users\\labuser")
    data = tmp_path / "fallback.bin"
    data.write_bytes(os.urandom(1_500_000))
    put = run_transfer(engine, TransferRequest(Direction.PUT, [str(data)], "in", "win1"))
    assert put.ok, put.results
    assert sha256_file(profile(wsman_server) / "in" / "fallback.bin") == sha256_file(data)
    assert "send" in wsman_server.requests  # through the PowerShell helper, not SMB


def test_a_transfer_across_an_ssh_node_and_a_winrm_node(engine, sshd_node, wsman_server, tmp_path):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    add_winrm_node(engine, wsman_server, tags=["lab"])
    data = tmp_path / "shared.bin"
    data.write_bytes(os.urandom(3_000_000))
    relative = f"labdeck-mixed-{uuid.uuid4().hex[:8]}"  # under each node's login/profile folder
    ssh_home = Path.home() / relative
    try:
        put = run_transfer(engine, TransferRequest(Direction.PUT, [str(data)], f"{relative}/${{node.name}}",
                                                   "tag:lab"))
        assert put.ok, put.results
        assert sha256_file(ssh_home / sshd_node.name / "shared.bin") == sha256_file(data)
        assert sha256_file(profile(wsman_server) / relative / "win1" / "shared.bin") == sha256_file(data)

        get = run_transfer(engine, TransferRequest(Direction.GET, [f"{relative}/${{node.name}}/*.bin"],
                                                   str(tmp_path / "back"), "tag:lab"))
        assert get.ok, get.results
        for name in (sshd_node.name, "win1"):
            assert sha256_file(tmp_path / "back" / name / "shared.bin") == sha256_file(data)
    finally:
        shutil.rmtree(ssh_home, ignore_errors=True)


@pytest.mark.parametrize("direction", [Direction.PUT, Direction.GET])
def test_a_transfer_cut_by_a_stopped_node_resumes_after_restart(engine, wsman_server, tmp_path, direction):
    add_winrm_node(engine, wsman_server)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * SIZE))
    if direction is Direction.PUT:
        request = TransferRequest(direction, [str(source)], "incoming", "win1")
        final = profile(wsman_server) / "incoming" / "big.bin"
    else:
        shutil.copy(source, profile(wsman_server) / "big.bin")
        request = TransferRequest(direction, ["big.bin"], str(tmp_path / "dest"), "win1")
        final = tmp_path / "dest" / "win1" / "big.bin"
    part = final.with_name("big.bin.labdeck-part")
    stopped_at = stop_server_at(engine, wsman_server, 0.3)

    first = run_transfer(engine, request)
    assert stopped_at, "the transfer ended before the node could be stopped"
    result = first.results["win1"]
    assert not result.ok and result.unreachable and "retry to resume" in result.error
    assert "\n" not in result.error
    assert not final.exists()
    assert 0 < part.stat().st_size < source.stat().st_size

    wsman_server.start()  # same port, as a node back from a reboot
    second = engine.transfers.retry(first.id)
    assert engine.transfers.wait(second.id, 120)
    assert second.ok, second.results
    (file_result,) = second.results["win1"].files
    assert file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(final) == sha256_file(source) == file_result.sha256
    assert not part.exists()


@pytest.mark.parametrize("direction", [Direction.PUT, Direction.GET])
def test_a_cancelled_transfer_keeps_its_part_and_the_retry_resumes(engine, wsman_server, tmp_path, direction):
    add_winrm_node(engine, wsman_server)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(2 * SIZE))
    if direction is Direction.PUT:
        request = TransferRequest(direction, [str(source)], "in", "win1")
        final = profile(wsman_server) / "in" / "big.bin"
    else:
        shutil.copy(source, profile(wsman_server) / "big.bin")
        request = TransferRequest(direction, ["big.bin"], str(tmp_path / "dest"), "win1")
        final = tmp_path / "dest" / "win1" / "big.bin"
    cancelled: list[int] = []

    def on_event(event) -> None:
        if isinstance(event, TransferProgress) and not cancelled and event.bytes_done >= event.bytes_total // 4 > 0:
            cancelled.append(event.bytes_done)
            engine.transfers.cancel(event.transfer_id)

    engine.bus.subscribe(on_event)
    first = run_transfer(engine, request)
    result = first.results["win1"]
    assert not result.ok and result.cancelled and "cancelled" in result.error
    part = final.with_name("big.bin.labdeck-part")
    assert 0 < part.stat().st_size < source.stat().st_size
    assert not final.exists()

    second = engine.transfers.retry(first.id)
    assert engine.transfers.wait(second.id, 120) and second.ok, second.results
    assert second.results["win1"].files[0].outcome is FileOutcome.RESUMED
    assert sha256_file(final) == sha256_file(source)


def test_a_damaged_part_on_the_node_is_not_resumed(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(1_000_000))
    (profile(wsman_server) / "in").mkdir(parents=True)
    (profile(wsman_server) / "in" / "data.bin.labdeck-part").write_bytes(b"not the same prefix" * 1000)
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], "in", "win1"))
    assert transfer.ok and transfer.results["win1"].files[0].outcome is FileOutcome.COPIED
    assert sha256_file(profile(wsman_server) / "in" / "data.bin") == sha256_file(source)


def test_collect_from_a_winrm_node_stays_inside_the_destination(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    results = profile(wsman_server) / "results"
    results.mkdir(parents=True)
    (results / "ok.txt").write_text("ok")
    (profile(wsman_server) / "secret.txt").write_text("outside the results folder")
    (wsman_server.root / "C" / "lab").mkdir(parents=True)
    (wsman_server.root / "C" / "lab" / "log.txt").write_text("absolute")
    dest = tmp_path / "dest"

    climbing = run_transfer(engine, TransferRequest(Direction.GET, ["results/../*.txt", "C:/lab/log.txt"],
                                                    str(dest), "win1"))
    assert climbing.ok, climbing.results
    assert sorted(p.name for p in (dest / "win1").iterdir()) == ["log.txt", "secret.txt"]

    # A node that lists a name holding a path ("..\..\evil.txt") gets it refused, not written.
    (results / "..\\..\\evil.txt").write_text("evil")
    refused = run_transfer(engine, TransferRequest(Direction.GET, ["results"], str(dest), "win1"))
    assert not refused.results["win1"].ok and "refusing" in refused.results["win1"].error
    written = {p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(engine.data_dir)}
    assert all(p.is_relative_to(dest) or p.is_relative_to(wsman_server.root) for p in written), written
    assert not list(tmp_path.rglob("evil.txt"))


def test_a_missing_remote_file_says_so(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    transfer = run_transfer(engine, TransferRequest(Direction.GET, ["results/model.ckpt"], str(tmp_path), "win1"))
    result = transfer.results["win1"]
    assert not result.ok and not result.unreachable
    assert result.error == "node 'win1': results/model.ckpt does not exist"


def test_a_node_with_winrm_2s_smaller_max_envelope_size_still_gets_the_file(engine, wsman_server, tmp_path):
    wsman_server.max_envelope = 150 * 1024  # MaxEnvelopeSizekb's default before Windows 8 / Server 2012
    add_winrm_node(engine, wsman_server)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(3_000_000))
    backend = engine.transfers.browser("win1")
    try:
        sent: list[int] = []
        result = backend.upload_file(source, "in/data.bin", sent.append, threading.Event())
        assert backend.chunk < 150 * 1024 * 3 // 4
    finally:
        backend.close()
    assert sum(sent) == source.stat().st_size and result.sha256 == sha256_file(source)
    assert sha256_file(profile(wsman_server) / "in" / "data.bin") == sha256_file(source)


def test_backend_errors_say_what_is_wrong(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    (profile(wsman_server) / "blocker").write_text("a file where a folder should be")
    backend = engine.transfers.browser("win1")
    cancel = threading.Event()
    try:
        with pytest.raises(TransferError, match="folder nope does not exist"):
            backend.listdir("nope")
        with pytest.raises(TransferError, match="blocker is a file, not a folder"):
            backend.listdir("blocker")
        with pytest.raises(TransferError, match="cannot hash nope.bin: it does not exist"):
            backend.sha256("nope.bin")
        with pytest.raises(TransferError, match="gone.bin does not exist"):
            backend.download_file(RemoteEntry("gone.bin", 5, 0, 0o100644), tmp_path / "gone.bin", lambda n: None,
                                  cancel)
        assert not (tmp_path / "gone.bin").exists()
        for root in (".", "~", "C:/", "C:"):
            with pytest.raises(TransferError, match="refusing to delete"):
                backend.remove(root)
        (tmp_path / "x.bin").write_bytes(b"x")
        with pytest.raises(TransferError, match=r"uploading blocker/x.bin failed \(Exception calling \"Create"):
            backend.upload_file(tmp_path / "x.bin", "blocker/x.bin", lambda n: None, cancel)
        assert (profile(wsman_server) / "blocker").read_text() == "a file where a folder should be"
    finally:
        backend.close()


def test_a_job_with_put_and_get_steps_on_a_winrm_node(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    (tmp_path / "in.txt").write_text("input for win1\n")
    job = Job(name="files", targets="win1", steps=[
        Step(kind=StepKind.PUT, source=str(tmp_path / "in.txt"), destination="work/${node.name}"),
        Step(command="tr a-z A-Z < work/win1/in.txt > work/win1/out.txt"),  # the server runs steps with sh
        Step(kind=StepKind.GET, source="work/${node.name}/out.txt", destination=str(tmp_path / "results"))])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert (tmp_path / "results" / "win1" / "out.txt").read_text() == "INPUT FOR WIN1\n"
    log = Path(nr.log_path).read_text()
    assert "copied work/win1/in.txt" in log and "copied work/win1/out.txt" in log


def test_labdeck_put_and_get_on_a_winrm_node(data_dir, wsman_server, tmp_path):
    assert add_winrm(data_dir, wsman_server).returncode == 0
    src = tmp_path / "input.dat"
    src.write_bytes(os.urandom(2_500_000))
    put = labdeck(data_dir, "put", str(src), "--targets", "win1", "--to", "C:/work/${node.name}", "--json")
    assert put.returncode == 0, put.stderr
    report = json.loads(put.stdout)
    assert report["ok"] and report["nodes"][0]["files"][0]["sha256"] == sha256_file(src)
    assert sha256_file(wsman_server.root / "C" / "work" / "win1" / "input.dat") == sha256_file(src)

    get = labdeck(data_dir, "get", "C:/work/win1/*.dat", "--targets", "win1", "--to", str(tmp_path / "back"),
                  "--json")
    assert get.returncode == 0, get.stderr
    assert sha256_file(tmp_path / "back" / "win1" / "input.dat") == sha256_file(src)
