"""Commands through a jump host: LabDeck against the OpenSSH client (``ProxyJump``), measured
in the same run on the same servers.

    python -m bench.bench_jump [--warm-iterations 200] [--cold-iterations 20]

Starts two throw-away sshd servers in a network namespace (tests/support/netns.py): a gateway
on the namespace's veth address, and a target on the namespace's own 127.0.0.1, which only
the gateway reaches (the set-up of tests/integration/test_jump_hosts.py). Needs root.

1. warm -- ``true`` on the target over open connections: ``SshExecutor.run`` on a connection
           tunnelled through the pooled gateway connection vs ``ssh -F cfg target true``
           reusing a ControlMaster to the target (itself through ProxyJump). Target: <= 1.0x.
2. cold -- connect through the gateway (both host keys checked, both logins), run ``true``,
           close everything: a fresh chain vs a fresh ``ssh`` with ProxyJump (which starts a
           second ssh for the hop). Target: <= 1.0x.

The servers get ``SetEnv SHLVL=1`` (bash skips ~/.bashrc), as in bench_ssh.py. Always exits
0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import tests.support.sshd as sshd_support  # noqa: E402
from bench.bench_ssh import host_key_check_for, labdeck_run, ms, run_ok, target_for, timed  # noqa: E402
from bench.report import NOTES, ROWS, Row, print_table  # noqa: E402
from labdeck.executors.ssh.connection import SshConnection  # noqa: E402
from labdeck.executors.ssh.executor import SshExecutor  # noqa: E402
from tests.support.netns import NetnsLink  # noqa: E402

TARGET = 1.0


def checker(gateway, target):
    checks = {gateway.name: host_key_check_for(gateway), target.name: host_key_check_for(target)}
    return lambda name, *key: checks[name](name, *key)


def chain(gateway, target, check) -> SshConnection:
    return SshConnection(target_for(target), check, via=SshConnection(target_for(gateway), check))


def close_chain(connection: SshConnection) -> None:
    while connection is not None:
        connection.close()
        connection = connection.via


def openssh_config(gateway, target, workdir: Path) -> Path:
    known = workdir / "known_hosts"
    known.write_text("".join(
        f"[{n.host}]:{n.port} {' '.join(n.host_key_file.with_name(n.host_key_file.name + '.pub').read_text().split()[:2])}\n"
        for n in (gateway, target)))
    common = (f"  User {gateway.user}\n  IdentityFile {gateway.key_file}\n  IdentitiesOnly yes\n  BatchMode yes\n"
              f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n"
              "  LogLevel ERROR\n")
    config = workdir / "ssh_config"
    config.write_text(f"Host gw\n  HostName {gateway.host}\n  Port {gateway.port}\n{common}"
                      f"Host target\n  HostName {target.host}\n  Port {target.port}\n  ProxyJump gw\n{common}"
                      f"  ControlPath {workdir}/cm-%C\n")
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-iterations", type=int, default=200)
    parser.add_argument("--cold-iterations", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("bench_jump needs root and iproute2 (a network namespace); nothing measured")
        return 0
    sshd_support._CONFIG_TEMPLATE += "SetEnv SHLVL=1\n"  # bash then skips ~/.bashrc
    workdir = Path(tempfile.mkdtemp(prefix="labdeck-bench-jump-"))
    cluster = sshd_support.SshdCluster(workdir / "sshd")
    link = NetnsLink().create()
    try:
        gateway = cluster.start_node_in(link.exec_prefix, link.ns_ip, prefix="gw")
        target = cluster.start_node_in(link.exec_prefix, "127.0.0.1", prefix="inner", hidden=True)
        check = checker(gateway, target)
        config = openssh_config(gateway, target, workdir)
        ssh = ["ssh", "-F", str(config)]

        connection = chain(gateway, target, check)
        executor = SshExecutor(connection)
        labdeck_run(executor)
        mux = [*ssh, "-o", "ControlMaster=auto", "-o", "ControlPersist=60", "target", "true"]
        run_ok(mux)  # starts the master (through ProxyJump)
        warm_labdeck = statistics.median(timed(lambda: labdeck_run(executor), args.warm_iterations))
        warm_ssh = statistics.median(timed(lambda: run_ok(mux), args.warm_iterations))
        close_chain(connection)
        subprocess.run([*ssh, "-O", "exit", "target"], capture_output=True, timeout=10)
        ROWS.append(Row("warm command via gateway (median)", ms(warm_labdeck), ms(warm_ssh),
                        f"{warm_labdeck / warm_ssh:.2f}x", f"<= {TARGET}x", warm_labdeck / warm_ssh <= TARGET))

        def cold_labdeck() -> None:
            fresh = chain(gateway, target, check)
            try:
                labdeck_run(SshExecutor(fresh))
            finally:
                close_chain(fresh)

        plain = [*ssh, "-o", "ControlMaster=no", "target", "true"]
        cold_labdeck()
        run_ok(plain)
        cold_l = statistics.median(timed(cold_labdeck, args.cold_iterations))
        cold_s = statistics.median(timed(lambda: run_ok(plain), args.cold_iterations))
        ROWS.append(Row("cold connect+command via gateway (median)", ms(cold_l), ms(cold_s),
                        f"{cold_l / cold_s:.2f}x", f"<= {TARGET}x", cold_l / cold_s <= TARGET))
        NOTES.append(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs; warm {args.warm_iterations}, "
                     f"cold {args.cold_iterations} iterations; reference: OpenSSH {ssh_version()} with ProxyJump")
        print_table("OpenSSH -J")
    finally:
        cluster.stop_all()
        link.delete()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def ssh_version() -> str:
    out = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    return out.split(",")[0]


if __name__ == "__main__":
    sys.exit(main())
