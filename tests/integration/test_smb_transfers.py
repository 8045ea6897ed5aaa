"""Files to and from a WinRM node over SMB, against a REAL Samba server (tests/support/smbd.py)
standing in for the Windows PC's admin share ``C$``.

The nodes' WinRM endpoint is a closed port on purpose: with the profile folder known (the
node's SMB home folder, or the ``userprofile`` its last probe stored) SMB alone moves the files,
and no test here passes because some WinRM path did the work. ``C:\\Users\\labuser`` on the
node is ``<share>/Users/labuser`` on the Samba server's disk.
"""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from labdeck.core.errors import AuthenticationFailed
from labdeck.core.models import Node, Transport, WinrmSettings
from labdeck.core.transfers import Direction, FileOutcome, TransferProgress
from labdeck.engine.transfers import TransferRequest
from labdeck.executors.local.transfer import LocalTransfer
from labdeck.executors.winrm.executor import executor_for
from labdeck.executors.winrm.transfer_choice import smb_or_chunked

from tests.integration.test_cli import labdeck
from tests.integration.test_transfers import run_transfer, sha256_file
from tests.integration.test_transfers_resilience import stop_server_at
from tests.support.smbd import SmbdServer, smbd_available

HOME = "C:\\Users\\labuser"
SIZE = 60_000_000


@pytest.fixture
def smbd(tmp_path):
    if not smbd_available():
        pytest.fail("Samba is not installed: apt-get install samba smbclient (tools/dev.py does it)")
    server = SmbdServer(tmp_path / "smbd").start()
    (server.root / "Users" / "labuser").mkdir(parents=True)
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def home_on_disk(smbd):
    return smbd.root / "Users" / "labuser"


def add_smb_node(engine, smbd, name="win1", password=None, **smb) -> Node:
    settings = {"smb": True, "smb_port": smbd.port, "smb_home": HOME} | smb
    node = Node(name=name, transport=Transport.WINRM, host=smbd.host, port=closed_port(), username=smbd.user,
                winrm=WinrmSettings(auth="ntlm", **settings))
    engine.add_node(node, secret=smbd.password if password is None else password, check=False)
    return node


def test_put_and_get_a_big_file_and_a_folder_with_the_cli(data_dir, smbd, tmp_path):
    added = labdeck(data_dir, "node", "add", "win1", "--transport", "winrm", "--host", smbd.host, "--port",
                    str(closed_port()), "--user", smbd.user, "--password-stdin", "--smb", "--smb-port", str(smbd.port),
                    "--smb-home", HOME, "--no-check", stdin=smbd.password + "\n")
    assert added.returncode == 0, added.stderr
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(24_000_000))
    os.utime(big, (1_700_000_000, 1_700_000_000))
    folder = tmp_path / "dataset"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(3_000_000))

    put = labdeck(data_dir, "put", str(big), str(folder), "--targets", "win1", "--to", "inputs", "--json")
    assert put.returncode == 0, put.stderr
    (node,) = json.loads(put.stdout)["nodes"]
    assert node["ok"] and {f["sha256"] for f in node["files"]} >= {sha256_file(big)}
    landed = home_on_disk(smbd) / "inputs"
    assert sha256_file(landed / "big.bin") == sha256_file(big)
    assert int((landed / "big.bin").stat().st_mtime) == 1_700_000_000
    assert (landed / "dataset" / "a.txt").read_text() == "alpha"
    assert sha256_file(landed / "dataset" / "sub" / "b.bin") == sha256_file(folder / "sub" / "b.bin")
    assert not list(landed.rglob("*.labdeck-part"))

    get = labdeck(data_dir, "get", "inputs/*", "--targets", "win1", "--to", str(tmp_path / "back"), "--json")
    assert get.returncode == 0, get.stderr
    back = tmp_path / "back" / "win1"
    assert sha256_file(back / "big.bin") == sha256_file(big)
    assert int((back / "big.bin").stat().st_mtime) == 1_700_000_000
    assert sha256_file(back / "dataset" / "sub" / "b.bin") == sha256_file(folder / "sub" / "b.bin")
    assert (back / "dataset" / "a.txt").read_text() == "alpha"
    assert (back / "dataset" / "empty.txt").read_bytes() == b"" == (landed / "dataset" / "empty.txt").read_bytes()

    again = labdeck(data_dir, "put", str(big), "--targets", "win1", "--to", "inputs", "--json")
    assert json.loads(again.stdout)["nodes"][0]["files"][0]["outcome"] == "skipped"


@pytest.mark.parametrize("direction", [Direction.PUT, Direction.GET])
def test_transfer_cut_by_a_stopped_smbd_resumes_after_restart(engine, smbd, tmp_path, direction):
    add_smb_node(engine, smbd)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(SIZE))
    if direction is Direction.PUT:
        request = TransferRequest(direction, [str(source)], "results", "win1")
        final = home_on_disk(smbd) / "results" / "big.bin"
    else:
        (home_on_disk(smbd) / "out").mkdir()
        os.replace(source, home_on_disk(smbd) / "out" / "big.bin")
        source = home_on_disk(smbd) / "out" / "big.bin"
        request = TransferRequest(direction, ["out/big.bin"], str(tmp_path / "dest"), "win1")
        final = tmp_path / "dest" / "win1" / "big.bin"
    part = final.with_name("big.bin.labdeck-part")
    stopped_at = stop_server_at(engine, smbd, 0.6)

    first = run_transfer(engine, request)
    assert stopped_at, "the transfer ended before smbd could be stopped"
    result = first.results["win1"]
    assert not result.ok and result.unreachable and "connection" in result.error and "retry to resume" in result.error
    assert not final.exists()
    assert 0 < part.stat().st_size < SIZE

    smbd.start()  # same port, same files
    second = engine.transfers.retry(first.id)
    assert engine.transfers.wait(second.id, 120)
    assert second.ok, second.results
    (file_result,) = second.results["win1"].files
    assert file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(final) == sha256_file(source) == file_result.sha256
    assert not part.exists()


def test_a_part_file_of_something_else_is_not_resumed(engine, smbd, tmp_path):
    add_smb_node(engine, smbd)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(3_000_000))
    (home_on_disk(smbd) / "in").mkdir()
    (home_on_disk(smbd) / "in" / "data.bin.labdeck-part").write_bytes(b"not the same prefix" * 1000)
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], "in", "win1"))
    (file_result,) = transfer.results["win1"].files
    assert transfer.ok and file_result.outcome is FileOutcome.COPIED
    assert sha256_file(home_on_disk(smbd) / "in" / "data.bin") == sha256_file(source)


def test_a_hole_left_by_writes_landing_out_of_order_is_not_resumed_over(engine, smbd, tmp_path):
    """Pipelined writes cut by a dropped server can leave a later block on disk and an earlier
    one missing; the resume must not keep that stretch (the samples would not see it)."""
    add_smb_node(engine, smbd)
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(40 << 20))
    (home_on_disk(smbd) / "in").mkdir()
    torn = bytearray(source.read_bytes()[:30 << 20])
    torn[22 << 20:24 << 20] = bytes(2 << 20)  # a 2 MiB write that never landed, inside the last window
    (home_on_disk(smbd) / "in" / "data.bin.labdeck-part").write_bytes(bytes(torn))
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], "in", "win1"))
    (file_result,) = transfer.results["win1"].files
    assert transfer.ok and file_result.outcome is FileOutcome.RESUMED
    assert sha256_file(home_on_disk(smbd) / "in" / "data.bin") == sha256_file(source) == file_result.sha256


def test_wrong_password_is_a_clear_login_error(data_dir, smbd, tmp_path):
    added = labdeck(data_dir, "node", "add", "win1", "--transport", "winrm", "--host", smbd.host, "--port",
                    str(closed_port()), "--user", smbd.user, "--password-stdin", "--smb", "--smb-port", str(smbd.port),
                    "--smb-home", HOME, "--no-check", stdin="not-the-password\n")
    assert added.returncode == 0, added.stderr
    (tmp_path / "f.txt").write_text("x")
    put = labdeck(data_dir, "put", str(tmp_path / "f.txt"), "--targets", "win1", "--to", "in")
    assert put.returncode == 1
    assert f"the SMB share \\\\{smbd.host}\\C$ refused the login of '{smbd.user}'" in put.stderr
    assert "fix the node's password" in put.stderr and "not-the-password" not in put.stderr
    assert not (home_on_disk(smbd) / "in").exists()


def test_unreachable_share_falls_back_to_the_backend_given(engine, smbd, tmp_path):
    """The seam the PowerShell-chunked backend plugs into: a stand-in backend (this computer's
    real LocalTransfer) is what the choice returns once the share does not answer."""
    add_smb_node(engine, smbd, smb_port=closed_port())
    node = engine.catalog.get_node("win1")
    executor = executor_for(node, smbd.password)
    fallback = LocalTransfer("win1")
    assert smb_or_chunked(node, executor, chunked=lambda: fallback) is fallback
    node.winrm.smb_port = smbd.port
    chosen = smb_or_chunked(node, executor, chunked=lambda: fallback)
    assert chosen is not fallback and chosen.stat("") is not None
    chosen.close()
    with pytest.raises(AuthenticationFailed, match="refused the login"):  # a wrong password is said, not bypassed
        smb_or_chunked(node, executor_for(node, "not-the-password"), chunked=lambda: fallback)


def test_the_profile_folder_from_the_nodes_probe_places_relative_paths(engine, smbd, tmp_path):
    add_smb_node(engine, smbd, smb_home="")
    engine.catalog.mark_node_seen("win1", 1.0, probe={"userprofile": HOME}, os_family="windows")
    (tmp_path / "f.txt").write_text("hello")
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(tmp_path / "f.txt")], "~/in", "win1"))
    assert transfer.ok, transfer.results
    assert (home_on_disk(smbd) / "in" / "f.txt").read_text() == "hello"
    absolute = run_transfer(engine, TransferRequest(Direction.PUT, [str(tmp_path / "f.txt")], "C:/Data", "win1"))
    assert absolute.ok and (smbd.root / "Data" / "f.txt").read_text() == "hello"


def test_cancel_keeps_the_part_for_a_later_resume(engine, smbd, tmp_path):
    add_smb_node(engine, smbd)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(SIZE))
    cancelled = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, TransferProgress) and event.bytes_done > SIZE // 4 and not cancelled.is_set():
            cancelled.set()
            engine.transfers.cancel(event.transfer_id)

    engine.bus.subscribe(on_event)
    transfer = run_transfer(engine, TransferRequest(Direction.PUT, [str(source)], "in", "win1"))
    assert not transfer.ok and transfer.results["win1"].cancelled
    assert (home_on_disk(smbd) / "in" / "big.bin.labdeck-part").exists()
    assert not (home_on_disk(smbd) / "in" / "big.bin").exists()


def test_node_test_reports_the_smb_share(data_dir, wsman_server, tmp_path):
    smbd = SmbdServer(tmp_path / "smbd", user=wsman_server.username, password=wsman_server.password).start()
    try:
        added = labdeck(data_dir, "node", "add", "win1", "--transport", "winrm", "--host", wsman_server.host,
                        "--port", str(wsman_server.port), "--user", wsman_server.username, "--auth", "basic",
                        "--password-stdin", "--smb-port", str(smbd.port), "--smb-home", HOME, "--no-check",
                        stdin=wsman_server.password + "\n")
        assert added.returncode == 0, added.stderr
        tested = labdeck(data_dir, "node", "test", "win1")
        assert tested.returncode == 0, tested.stderr
        assert f"ok   SMB files: \\\\{smbd.host}\\C$ (port {smbd.port}), logged in" in tested.stdout

        smbd.stop()
        tested = labdeck(data_dir, "node", "test", "win1")
        assert tested.returncode == 0, tested.stderr
        assert f"FIX  SMB files: \\\\{smbd.host}\\C$ (port {smbd.port}) - its SMB share {smbd.host}:{smbd.port} " \
               f"does not answer" in tested.stdout
    finally:
        smbd.stop()
