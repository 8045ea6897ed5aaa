"""A network namespace joined to this machine by a veth pair, for tests that must cut a node
off the network and bring it back: ``down()`` takes the link down (packets are dropped, the
processes inside keep running), ``up()`` restores it; ``silence()`` keeps the link up but
makes the namespace drop what it receives. Needs root and iproute2's ``ip``."""

from __future__ import annotations

import random
import subprocess
import uuid

import pytest


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class NetnsLink:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"ldns{tag}"
        self.host_if, self.ns_if = f"ldh{tag}", f"ldn{tag}"
        subnet = f"10.{random.randint(64, 250)}.{random.randint(0, 250)}"
        self.host_ip, self.ns_ip = f"{subnet}.1", f"{subnet}.2"
        self.created = False

    @property
    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def create(self) -> NetnsLink:
        _ip("netns", "add", self.name)
        self.created = True
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
        _ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
        _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        return self

    def down(self) -> None:
        _ip("link", "set", self.host_if, "down")

    def up(self) -> None:
        _ip("link", "set", self.host_if, "up")

    def silence(self) -> None:
        """The node stops answering while this machine's link stays up (a cable cut beyond a
        switch, a frozen network stack): packets to it are dropped, no error comes back."""
        _ip("netns", "exec", self.name, "ip", "addr", "del", f"{self.ns_ip}/24", "dev", self.ns_if)

    def unsilence(self) -> None:
        _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)

    def delete(self) -> None:
        if self.created:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
            self.created = False


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
