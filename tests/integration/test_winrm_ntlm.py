"""Windows nodes with WinRM's default login, NTLM, through LabDeck's engine and pywinrm's real
client, against the WS-Management test server doing what Windows does (tests/support/wsman_auth.py):
the Negotiate handshake on a kept-alive connection, then over HTTP every message sealed
(MS-WSMV 2.2.9.1.1), over HTTPS TLS with channel binding instead."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from labdeck.core.errors import AuthenticationFailed
from labdeck.core.models import Job, JobPolicy, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus
from labdeck.executors.winrm import release as winrm_release
from tests.conftest import add_winrm_node
from tests.integration.test_cli import labdeck
from tests.integration.test_detached_runs import DETACHED
from tests.integration.test_ssh_runs import processes_matching, run_job
from tests.integration.test_winrm_runs import open_commands, wait_for
from tests.support.tls import self_signed_certificate
from tests.support.wsman_server import WsmanServer


@pytest.fixture
def ntlm_server(tmp_path):
    server = WsmanServer(tmp_path / "node", auth="negotiate").start()
    yield server
    server.stop()


@pytest.fixture
def ntlm_https_server(tmp_path):
    certificate = self_signed_certificate(tmp_path / "tls")
    server = WsmanServer(tmp_path / "node", auth="negotiate", certificate=certificate).start()
    yield server
    server.stop()


def by_connection(server) -> dict[int, list]:
    exchanges = defaultdict(list)
    for exchange in list(server.exchanges):
        exchanges[exchange.connection].append(exchange)
    return exchanges


def assert_handshake_then_sealed(server, sealed: bool, engine=None) -> None:
    """On each connection: 401 (offer), 401 (challenge), then only authenticated requests, every
    SOAP message among them sealed (or none, over HTTPS). With the engine, its WinRM executor is
    closed first, so no request (a background release, say) is still on its way, and the shell
    Deletes are checked too."""
    if engine is not None:
        engine.pool.forget("win1")
    for number, exchanges in by_connection(server).items():
        assert [e.status for e in exchanges[:2]] == [401, 401], (number, exchanges)
        answered = exchanges[2:]
        assert answered and all(e.scheme == "negotiate" and e.status in (200, 500) for e in answered), exchanges
        assert all(e.encrypted is sealed for e in answered if e.action), exchanges


def test_a_run_over_http_seals_every_message_after_the_handshake(engine, ntlm_server):
    add_winrm_node(engine, ntlm_server, auth="ntlm")
    script = "echo script says hello\n" + "".join(f"echo line {i}\n" for i in range(8000))  # 2 stdin chunks
    job = Job(name="sealed", targets="win1", steps=[
        Step(command='echo "out of $LABDECK_NODE"; echo "on stderr" >&2'),
        Step(kind=StepKind.SCRIPT, script=script, filename="gen.bat"),
        Step(command="cat; echo after-cat")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    text = Path(nr.log_path).read_text()
    assert "out of win1\n" in text and "on stderr\n" in text
    assert "script says hello\n" in text and "line 7999\n" in text and "after-cat\n" in text
    assert ntlm_server.requests.count("send") >= 3  # the script's chunks and end of input, sealed like the rest
    # the releaser's terminate Signals, over its own connection with its own NTLM context
    assert wait_for(lambda: open_commands(ntlm_server) == 0, timeout=10)
    assert len([s for s in ntlm_server.signals if s[1] == "terminate" and s[2]]) >= 4
    assert_handshake_then_sealed(ntlm_server, sealed=True, engine=engine)
    connections = by_connection(ntlm_server)
    actions = {e.action for exchanges in connections.values() for e in exchanges}
    assert {"create", "command", "receive", "send", "signal"} <= actions
    shell_connections = {n for n, exchanges in connections.items() if any(e.action == "create" for e in exchanges)}
    signal_only = [n for n, exchanges in connections.items()
                   if n not in shell_connections and any(e.action == "signal" for e in exchanges)]
    assert signal_only, "the releaser's Signals came over a shell's connection"


def test_a_timeout_kills_the_tree_over_a_second_logged_in_connection(engine, ntlm_server):
    add_winrm_node(engine, ntlm_server, auth="ntlm")
    marker = f"labdeck-ntlm-{uuid.uuid4().hex[:8]}"
    job = Job(name="slow", targets="win1", steps=[Step(command=f"echo up; sh -c 'sleep 300; : {marker}'")],
              policy=JobPolicy(timeout_s=1.5))
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.TIMED_OUT and nr.kill_state is KillState.KILLED
    assert processes_matching(marker) == []
    # taskkill went out on a second shell, logged in on its own connection while the first one waited
    assert ntlm_server.requests.count("create") >= 2
    assert_handshake_then_sealed(ntlm_server, sealed=True, engine=engine)


def test_a_detached_run_over_ntlm_reports_its_outcome(engine, ntlm_server):
    add_winrm_node(engine, ntlm_server, auth="ntlm")
    job = Job(name="away", targets="win1", policy=DETACHED, steps=[
        Step(command='echo "one $LABDECK_NODE"'), Step(command="echo two; exit 4")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 4, nr.message
    assert "one win1\n" in Path(nr.log_path).read_text() and "two\n" in Path(nr.log_path).read_text()
    assert_handshake_then_sealed(ntlm_server, sealed=True, engine=engine)


def test_a_wrong_password_is_a_clear_login_error(engine, ntlm_server):
    with pytest.raises(AuthenticationFailed) as info:
        add_winrm_node(engine, ntlm_server, auth="ntlm", password="not-the-password")
    message = str(info.value)
    assert "win1" in message and "login as 'labuser' (ntlm) was refused" in message and "password" in message
    assert "win1" not in {n.name for n in engine.catalog.list_nodes()}
    assert not [e for e in ntlm_server.exchanges if e.scheme is not None]  # nothing got past the login


def test_node_test_probes_over_ntlm(engine, ntlm_server):
    add_winrm_node(engine, ntlm_server, auth="ntlm", check=False)
    result = engine.test_node("win1")
    assert result.probe["os_family"] == "windows" and result.probe["cpus"] >= 1
    checks = {c.name: c for c in result.checks}
    assert checks["reachable"].ok and checks["login"].ok and checks["MaxShellsPerUser"].ok
    assert engine.catalog.get_node("win1").os_family == "windows"
    assert_handshake_then_sealed(ntlm_server, sealed=True, engine=engine)


def test_a_shell_idle_past_the_nodes_connection_timeout_is_reused_after_a_fresh_login(
        engine, ntlm_server, monkeypatch):
    monkeypatch.setattr(winrm_release, "IDLE_CONNECTION_S", 0.2)  # HTTP.sys' 2 minutes, shortened
    add_winrm_node(engine, ntlm_server, auth="ntlm")  # its test leaves a shell in the pool
    job = Job(name="again", targets="win1", steps=[Step(command="echo still-here")])
    assert run_job(engine, job)[1]["win1"].status is NodeRunStatus.SUCCEEDED
    assert wait_for(lambda: open_commands(ntlm_server) == 0, timeout=10)
    time.sleep(0.3)
    ntlm_server.drop_connections()  # as the node closes idle kept-alive connections
    _run, node_runs = run_job(engine, job)
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED, node_runs["win1"].message
    assert "still-here\n" in Path(node_runs["win1"].log_path).read_text()
    assert wait_for(lambda: open_commands(ntlm_server) == 0, timeout=10)  # the releaser logged in again too
    assert ntlm_server.requests.count("create") == 1  # the same shell, not a new one (and one left behind)
    assert not [e for e in ntlm_server.exchanges if e.status == 400]  # nothing sealed for a lost connection
    assert_handshake_then_sealed(ntlm_server, sealed=True, engine=engine)


@pytest.mark.parametrize("unsealable_status", [400, 401])  # which of them Windows sends is not known
def test_a_shell_whose_connection_dropped_unexpectedly_is_replaced_and_deleted(engine, ntlm_server,
                                                                              unsealable_status):
    ntlm_server.unsealable_status = unsealable_status
    add_winrm_node(engine, ntlm_server, auth="ntlm")  # its test leaves a shell in the pool
    assert wait_for(lambda: open_commands(ntlm_server) == 0, timeout=10)
    ntlm_server.drop_connections()  # well inside the idle time after which LabDeck logs in afresh
    _run, node_runs = run_job(engine, Job(name="again", targets="win1", steps=[Step(command="echo still-here")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED, node_runs["win1"].message
    assert ntlm_server.requests.count("create") == 2  # the first try could not be read: a new shell
    assert wait_for(lambda: open_commands(ntlm_server) == 0, timeout=10)
    assert len(ntlm_server.shells) == 1  # and the old one was deleted, not left to the node's IdleTimeout


def test_a_password_changed_on_the_pc_is_a_login_error_once_the_connection_is_new(engine, ntlm_server):
    add_winrm_node(engine, ntlm_server, auth="ntlm")  # its test leaves a shell in the pool
    ntlm_server.password = "changed-on-the-pc"  # an open NTLM connection stays logged in, as on Windows
    ntlm_server.drop_connections()
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo hi")]))
    assert node_runs["win1"].status is NodeRunStatus.ERROR
    assert "login as 'labuser' (ntlm) was refused" in node_runs["win1"].message


def test_closing_labdeck_deletes_a_shell_whose_connection_the_node_dropped(engine, ntlm_server, monkeypatch):
    monkeypatch.setattr(winrm_release, "IDLE_CONNECTION_S", 0.2)
    add_winrm_node(engine, ntlm_server, auth="ntlm")  # its test leaves a shell in the pool
    assert len(ntlm_server.shells) == 1
    time.sleep(0.3)
    ntlm_server.drop_connections()
    engine.close()
    assert ntlm_server.shells == {}  # not left on the node until its IdleTimeout
    assert not [e for e in ntlm_server.exchanges if e.status == 400]


def test_ntlm_over_https_binds_the_login_to_the_certificate_and_does_not_seal(engine, ntlm_https_server):
    add_winrm_node(engine, ntlm_https_server, auth="ntlm", https=True, verify_cert=False)
    _run, node_runs = run_job(engine, Job(name="tls", targets="win1", steps=[Step(command="echo over-tls")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED, node_runs["win1"].message
    assert "over-tls\n" in Path(node_runs["win1"].log_path).read_text()
    assert_handshake_then_sealed(ntlm_https_server, sealed=False, engine=engine)


def test_a_node_added_from_the_command_line_logs_in_with_ntlm_by_default(data_dir, ntlm_server):
    added = labdeck(data_dir, "node", "add", "win1", "--transport", "winrm", "--host", ntlm_server.host,
                    "--port", str(ntlm_server.port), "--user", ntlm_server.username, "--password-stdin",
                    stdin=ntlm_server.password + "\n")
    assert added.returncode == 0, added.stderr
    nodes = {n["name"]: n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)}
    assert nodes["win1"]["winrm"]["auth"] == "ntlm"
    ran = labdeck(data_dir, "exec", "--targets", "win1", "--json", "--", "echo", "from-windows")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["nodes"][0]["status"] == "succeeded"
    assert_handshake_then_sealed(ntlm_server, sealed=True)  # the command line has closed its engine


def test_a_send_refused_as_too_large_is_retried_smaller_under_sealing(engine, ntlm_server, tmp_path):
    """HTTP.sys refuses the over-size Send (413) before WinRM unseals it, so the client's sealing
    sequence number is one ahead of the node's; the retry goes over a fresh login."""
    import hashlib
    import os
    import threading

    ntlm_server.max_envelope = 150 * 1024  # WinRM 2.0's MaxEnvelopeSizekb
    add_winrm_node(engine, ntlm_server, auth="ntlm")
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(1_000_000))
    backend = engine.transfers.browser("win1")
    try:
        result = backend.upload_file(source, "in/data.bin", lambda n: None, threading.Event())
    finally:
        backend.close()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert result.sha256 == digest
    assert hashlib.sha256((ntlm_server.root / "profile" / "in" / "data.bin").read_bytes()).hexdigest() == digest
    assert any(e.status == 413 for e in ntlm_server.exchanges)
    assert not [e for e in ntlm_server.exchanges if e.status == 400]  # no message the node could not unseal
