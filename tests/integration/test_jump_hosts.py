"""Jump hosts on real sshd servers. The target's sshd runs in a network namespace and listens
on that namespace's own 127.0.0.1, which this test process cannot reach; the gateway's sshd
runs in the same namespace on its veth address, which this process can reach. So the target
answers only through the gateway, as a lab behind a bastion does."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from labdeck.core.errors import NodeUnreachable
from labdeck.core.models import Job, Node, Step, Transport
from labdeck.core.status import RunStatus
from tests.conftest import add_sshd_node
from tests.integration.test_cli import labdeck
from tests.support.netns import NetnsLink


@pytest.fixture
def behind_gateway(sshd_cluster):
    """(gateway, [two targets]) — the targets reachable only through the gateway."""
    link = NetnsLink().create()
    started = []
    try:
        gateway = sshd_cluster.start_node_in(link.exec_prefix, link.ns_ip, prefix="gw")
        started.append(gateway)
        targets = [sshd_cluster.start_node_in(link.exec_prefix, "127.0.0.1", prefix="inner", hidden=True)
                   for _ in range(2)]
        started += targets
        yield gateway, targets
    finally:
        for sshd in started:
            sshd.stop()
        link.delete()


def _node(sshd, name=None, via=()):
    return Node(name=name or sshd.name, transport=Transport.SSH, host=sshd.host, port=sshd.port, username=sshd.user,
                key_file=str(sshd.key_file), via=list(via))


def _connections_to(port: int) -> int:
    return sum(1 for c in psutil.net_connections("tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


def test_nodes_behind_a_gateway_run_through_one_pooled_connection_to_it(engine, behind_gateway):
    gateway, targets = behind_gateway
    with pytest.raises(NodeUnreachable):  # not reachable directly: the test is honest
        engine.add_node(_node(targets[0]), accept_host_key=True)
    add_sshd_node(engine, gateway, name="gw")
    for sshd in targets:
        check = engine.add_node(_node(sshd, via=["gw"]), accept_host_key=True)
        assert check.reachable and check.probe["os_family"] == "linux"
        assert engine.catalog.host_keys(sshd.name)["ssh-ed25519"][1] == sshd.host_key_fingerprint
    engine.catalog.add_job(Job(name="where", targets=",".join(t.name for t in targets),
                               steps=[Step(command='echo "from $SSH_CONNECTION"')]))
    run = engine.start_job("where")
    assert engine.wait(run.id, 60)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    for nr in engine.catalog.node_runs(run.id):
        with open(nr.log_path, encoding="utf-8") as log:
            assert "from 127.0.0.1 " in log.read()  # the target saw a connection from inside its namespace
    engine.pool.forget("gw")  # the gateway's own connection as a node (its probe) goes (closing takes a moment)...
    deadline = time.monotonic() + 5
    while _connections_to(gateway.port) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _connections_to(gateway.port) == 1  # ...and both targets' sessions share the one left


def test_a_changed_host_key_on_the_gateway_blocks_its_nodes_with_a_clear_message(engine, behind_gateway, tmp_path):
    gateway, (target, _other) = behind_gateway
    add_sshd_node(engine, gateway, name="gw")
    engine.add_node(_node(target, via=["gw"]), accept_host_key=True)
    gateway.stop()
    gateway.regenerate_host_key()
    gateway.start()
    engine.pool.forget(target.name)
    engine.catalog.add_job(Job(name="touch", targets=target.name, steps=[Step(command=f"touch {tmp_path}/ran-anyway")]))
    run = engine.start_job("touch")
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    assert nr.status.value == "error"
    assert "HOST KEY CHANGED for node 'gw'" in nr.message, nr.message
    assert not (tmp_path / "ran-anyway").exists()  # nothing ran on the node behind it
    with pytest.raises(Exception, match="HOST KEY CHANGED for node 'gw'"):
        engine.test_node(target.name)


def test_two_hops_each_with_its_own_host_key(engine, sshd_nodes, behind_gateway):
    gateway, (target, _other) = behind_gateway
    (outer,) = sshd_nodes(1)  # on this machine's loopback; it reaches the gateway's veth address
    add_sshd_node(engine, outer, name="bastion")
    add_sshd_node(engine, gateway, name="gw")
    check = engine.add_node(_node(target, via=["bastion", "gw"]), accept_host_key=True)
    assert check.reachable
    # The gateway's key is checked on the way too: a changed one blocks the two-hop path.
    gateway.stop()
    gateway.regenerate_host_key()
    gateway.start()
    engine.pool.forget(target.name)
    with pytest.raises(Exception, match="HOST KEY CHANGED for node 'gw'"):
        engine.test_node(target.name)


def test_cli_via_and_ssh_config_proxyjump_import(data_dir, behind_gateway, tmp_path):
    gateway, (first, second) = behind_gateway
    config = tmp_path / "config"
    config.write_text(f"Host gateway\n  HostName {gateway.host}\n  Port {gateway.port}\n\n"
                      f"Host {first.name}\n  HostName 127.0.0.1\n  Port {first.port}\n  ProxyJump gateway\n\n"
                      f"Host *\n  User {gateway.user}\n  IdentityFile {gateway.key_file}\n")
    result = labdeck(data_dir, "node", "import", str(config), "--accept-host-keys")
    assert result.returncode == 0, result.stderr
    assert f"{first.name}: ssh-ed25519 {first.host_key_fingerprint}" in result.stdout  # asked through the gateway
    add = labdeck(data_dir, "node", "add", second.name, "--host", "127.0.0.1", "--port", str(second.port),
                  "--user", second.user, "--key-file", str(second.key_file), "--via", "gateway", "--accept-host-key")
    assert add.returncode == 0, add.stderr
    nodes = {n["name"]: n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)}
    assert nodes[first.name]["via"] == ["gateway"] and nodes[second.name]["via"] == ["gateway"]
    run = labdeck(data_dir, "exec", "--targets", f"{first.name},{second.name}", "--json", "--", "true")
    assert run.returncode == 0, run.stderr
    missing = labdeck(data_dir, "node", "add", "x", "--host", "h", "--user", "u", "--via", "nosuch", "--no-check")
    assert missing.returncode == 2 and "no node named 'nosuch'" in missing.stderr
