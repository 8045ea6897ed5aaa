"""Prove the real-sshd test fixtures work with the real OpenSSH client."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import paramiko
import pytest

from tests.support.sshd import SshdNode, ensure_password_user


def _ssh(node: SshdNode, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*node.ssh_args(), *cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _keyscan_fingerprint(node: SshdNode) -> str:
    scan = subprocess.run(
        ["ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", str(node.port), node.host],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scan.returncode == 0 and scan.stdout.strip(), scan.stderr
    fp = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"],
        input=scan.stdout,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return fp.stdout.split()[1]


def test_echo_hi(sshd_node: SshdNode) -> None:
    res = _ssh(sshd_node, "echo", "hi")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "hi"
    assert sshd_node.is_running()
    assert sshd_node.host_key_fingerprint.startswith("SHA256:")


def test_twenty_nodes_concurrently(sshd_nodes) -> None:
    t0 = time.monotonic()
    nodes = sshd_nodes(20)
    started = time.monotonic() - t0
    assert len({n.port for n in nodes}) == 20
    assert len({n.name for n in nodes}) == 20
    assert len({n.host_key_fingerprint for n in nodes}) == 20

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda n: _ssh(n, "echo", n.name, timeout=60), nodes))
    for node, res in zip(nodes, results, strict=True):
        assert res.returncode == 0, f"{node.name}: {res.stderr}"
        assert res.stdout.strip() == node.name
    print(f"20 nodes started in {started:.2f}s; ran commands in {time.monotonic() - t0 - started:.2f}s")


def test_stop_refuses_new_connections_and_kills_sessions(sshd_node: SshdNode) -> None:
    client = subprocess.Popen(
        [*sshd_node.ssh_args(), "echo started; exec sleep 30"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "started"  # session is established

        t0 = time.monotonic()
        sshd_node.stop()
        client.wait(timeout=5)
        assert time.monotonic() - t0 < 5
        assert client.returncode != 0
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()

    assert not sshd_node.is_running()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sshd_node.host, sshd_node.port), timeout=2).close()
    res = _ssh(sshd_node, "true")
    assert res.returncode == 255

    sshd_node.stop()  # idempotent
    sshd_node.start()  # restart on the same port
    assert sshd_node.is_running()
    res = _ssh(sshd_node, "echo", "back")
    assert res.returncode == 0 and res.stdout.strip() == "back", res.stderr


def test_regenerate_host_key_changes_fingerprint(sshd_node: SshdNode) -> None:
    before = _keyscan_fingerprint(sshd_node)
    assert before == sshd_node.host_key_fingerprint

    sshd_node.regenerate_host_key()
    assert sshd_node.host_key_fingerprint != before
    sshd_node.stop()
    sshd_node.start()

    after = _keyscan_fingerprint(sshd_node)
    assert after == sshd_node.host_key_fingerprint
    assert after != before


@pytest.mark.skipif(os.geteuid() != 0, reason="creating local users needs root")
def test_password_user_can_log_in(sshd_node: SshdNode) -> None:
    username, password = ensure_password_user()
    assert ensure_password_user() == (username, password)  # stable & idempotent

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            sshd_node.host,
            port=sshd_node.port,
            username=username,
            password=password,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
        _, stdout, _ = client.exec_command("id -un")
        assert stdout.read().decode().strip() == username
    finally:
        client.close()

    bad = paramiko.SSHClient()
    bad.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        bad.connect(
            sshd_node.host,
            port=sshd_node.port,
            username=username,
            password=password + "x",
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
    bad.close()
