"""SSH performance of LabDeck against the OpenSSH client, measured in the same run.

    /tmp/venv/bin/python -m bench.bench_ssh [--warm-iterations 200] [--cold-iterations 30]
                                            [--nodes 20] [--login-rc] [--profile]

Starts its own throw-away sshd servers on loopback (tests/support/sshd.py) and measures:

1. warm   -- one command (``true``) on an open connection: ``SshExecutor.run`` through one
             pooled ``SshConnection`` vs ``ssh`` reusing a ControlMaster started beforehand.
             Target: LabDeck <= 0.6x ssh (median).
2. cold   -- connect, check the host key, authenticate with the ed25519 key, run ``true``,
             close: a fresh ``SshConnection`` + ``SshExecutor`` each time vs a fresh ``ssh``
             process (no ControlMaster), both verifying the host key against a known key.
             Target: LabDeck <= 0.5x ssh (median).
3. fanout -- ``sleep 1`` on N nodes at once through the Engine (``start_command`` + ``wait``),
             with a cold pool (a fresh Engine on the same data folder) and a warm pool (the
             second run); reference: N parallel fresh ``ssh ... sleep 1``.
             Target: wall time <= 1.2 s.

About ``--login-rc``: sshd runs every command through the user's login shell as
``bash -c CMD``, and bash sources ``~/.bashrc`` when it detects sshd (SSH_CLIENT set,
SHLVL < 2). On a box whose ~/.bashrc does expensive work (e.g. ``eval "$(pyenv init -)"``,
~110 ms here) that fixed remote cost swamps every client-side difference and pushes all
ratios to ~1. By default the benchmark sshd servers therefore get ``SetEnv SHLVL=1`` so bash
skips ~/.bashrc; both LabDeck and OpenSSH talk to the same servers, so the comparison stays
fair. Pass ``--login-rc`` to measure with the box's rc files as they are.

Always exits 0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import paramiko  # noqa: E402
from bench.report import NOTES, ROWS, Row, pct, print_table  # noqa: E402
import psutil  # noqa: E402

import tests.support.sshd as sshd_support  # noqa: E402
from labdeck.core.errors import HostKeyChanged, HostKeyUnknown  # noqa: E402
from labdeck.executors.base import CommandRequest, Deadline  # noqa: E402
from labdeck.executors.ssh.executor import SshExecutor  # noqa: E402
from labdeck.executors.ssh.connection import SshConnection, SshTarget, _open_socket, fingerprint  # noqa: E402

WARM_TARGET = 0.6
COLD_TARGET = 0.5
FANOUT_TARGET_S = 1.2


# --------------------------------------------------------------------------- helpers



def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def discard(_stream: str, _data: bytes) -> None:
    pass


def host_key_check_for(node: sshd_support.SshdNode):
    """A strict host-key check against the node's real public key (what the catalog does)."""
    key_type, key_b64 = node.host_key_file.with_name(node.host_key_file.name + ".pub").read_text().split()[:2]

    def check(name: str, presented_type: str, presented_b64: str, fp: str) -> None:
        if presented_type != key_type:
            raise HostKeyUnknown(name, fp, presented_type, presented_b64)
        if presented_b64 != key_b64:
            raise HostKeyChanged(name, f"{key_type} (accepted)", f"{presented_type} {fp}")

    return check


def target_for(node: sshd_support.SshdNode) -> SshTarget:
    return SshTarget(node.name, node.host, node.port, node.user, str(node.key_file))


class OpenSsh:
    """argv for the OpenSSH client, verifying the host key against a known_hosts file."""

    def __init__(self, nodes: list[sshd_support.SshdNode], workdir: Path):
        self.known_hosts = workdir / "known_hosts"
        lines = []
        for node in nodes:
            pub = node.host_key_file.with_name(node.host_key_file.name + ".pub").read_text().split()
            lines.append(f"[{node.host}]:{node.port} {pub[0]} {pub[1]}")
        self.known_hosts.write_text("\n".join(lines) + "\n")
        self.control_dir = workdir / "cm"
        self.control_dir.mkdir(exist_ok=True)

    def argv(self, node: sshd_support.SshdNode, *command: str, mux: bool = False) -> list[str]:
        args = ["ssh", "-p", str(node.port), "-i", str(node.key_file),
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        if mux:
            args += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_dir}/%C",
                     "-o", "ControlPersist=60"]
        return args + [f"{node.user}@{node.host}", *command]

    def stop_master(self, node: sshd_support.SshdNode) -> None:
        argv = self.argv(node, mux=True)
        subprocess.run(argv[:-1] + ["-O", "exit", argv[-1]], capture_output=True, timeout=10)


def run_ok(argv: list[str]) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed rc={proc.returncode}: {proc.stderr.decode(errors='replace')}")


def labdeck_run(executor: SshExecutor, command: str = "true") -> None:
    result = executor.run(CommandRequest(command=command), discard, Deadline(), threading.Event())
    if result.exit_code != 0:
        raise RuntimeError(f"LabDeck run of {command!r} ended {result}")


def timed(fn, iterations: int) -> list[float]:
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


# --------------------------------------------------------------------------- 1. warm

def bench_warm(node, ssh: OpenSsh, iterations: int) -> None:
    print(f"[1] warm command, {iterations} iterations each ...", flush=True)
    conn = SshConnection(target_for(node), host_key_check_for(node))
    executor = SshExecutor(conn)
    try:
        for _ in range(10):
            labdeck_run(executor)
        run_ok(ssh.argv(node, "true", mux=True))  # starts the master (ControlPersist)
        for _ in range(5):
            run_ok(ssh.argv(node, "true", mux=True))
        # Interleave in blocks so drift on a busy box hits both sides alike.
        lab: list[float] = []
        ref: list[float] = []
        raw: list[float] = []
        transport = conn.transport()

        def raw_channel() -> None:
            chan = transport.open_session()
            chan.exec_command("true")
            chan.recv_exit_status()
            chan.close()

        block = max(1, iterations // 10)
        mux_argv = ssh.argv(node, "true", mux=True)
        while len(lab) < iterations:
            n = min(block, iterations - len(lab))
            lab += timed(lambda: labdeck_run(executor), n)
            ref += timed(lambda: run_ok(mux_argv), n)
            raw += timed(raw_channel, n)
    finally:
        conn.close()
        ssh.stop_master(node)
    lab_med, ref_med = statistics.median(lab), statistics.median(ref)
    ratio = lab_med / ref_med
    ROWS.append(Row("1. warm `true`, median", ms(lab_med), ms(ref_med), f"{ratio:.2f}x", f"<= {WARM_TARGET}x",
                    ratio <= WARM_TARGET))
    ROWS.append(Row("   warm `true`, p90", ms(pct(lab, 0.9)), ms(pct(ref, 0.9)),
                    f"{pct(lab, 0.9) / pct(ref, 0.9):.2f}x", "-", None))
    raw_med = statistics.median(raw)
    ROWS.append(Row("   diag: bare paramiko channel, no setsid wrapper", ms(raw_med), ms(ref_med),
                    f"{raw_med / ref_med:.2f}x", "-", None))


# --------------------------------------------------------------------------- 2. cold

def labdeck_cold_once(node, check) -> None:
    conn = SshConnection(target_for(node), check)
    try:
        labdeck_run(SshExecutor(conn))
    finally:
        conn.close()


def cold_breakdown(node, check, iterations: int = 10) -> dict[str, float]:
    """Where a cold connect-and-run spends its time (same steps as SshConnection._connect)."""
    target = target_for(node)
    phases: dict[str, list[float]] = {k: [] for k in
                                      ("tcp", "kex", "hostkey", "auth", "open", "exec+exit", "close")}
    for _ in range(iterations):
        t0 = time.perf_counter()
        sock = _open_socket(target, 8)
        t1 = time.perf_counter()
        tr = paramiko.Transport(sock)
        tr.start_client(timeout=8)
        t2 = time.perf_counter()
        key = tr.get_remote_server_key()
        check(node.name, key.get_name(), key.get_base64(), fingerprint(key))
        t3 = time.perf_counter()
        tr.auth_publickey(target.username, paramiko.PKey.from_path(Path(target.key_file)))
        t4 = time.perf_counter()
        chan = tr.open_session()
        t5 = time.perf_counter()
        chan.exec_command("true")
        chan.recv_exit_status()
        t6 = time.perf_counter()
        chan.close()
        tr.close()
        t7 = time.perf_counter()
        for name, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
            phases[name].append(value)
    return {name: statistics.median(values) for name, values in phases.items()}


def bench_cold(node, ssh: OpenSsh, iterations: int, profile: bool) -> None:
    print(f"[2] cold connect-and-run, {iterations} iterations each ...", flush=True)
    check = host_key_check_for(node)
    labdeck_cold_once(node, check)
    run_ok(ssh.argv(node, "true"))
    lab: list[float] = []
    ref: list[float] = []
    ref_argv = ssh.argv(node, "true")
    block = max(1, iterations // 5)
    while len(lab) < iterations:
        n = min(block, iterations - len(lab))
        lab += timed(lambda: labdeck_cold_once(node, check), n)
        ref += timed(lambda: run_ok(ref_argv), n)
    lab_med, ref_med = statistics.median(lab), statistics.median(ref)
    ratio = lab_med / ref_med
    ROWS.append(Row("2. cold connect+auth+`true`, median", ms(lab_med), ms(ref_med), f"{ratio:.2f}x",
                    f"<= {COLD_TARGET}x", ratio <= COLD_TARGET))
    ROWS.append(Row("   cold, p90", ms(pct(lab, 0.9)), ms(pct(ref, 0.9)),
                    f"{pct(lab, 0.9) / pct(ref, 0.9):.2f}x", "-", None))
    # Same-kex reference: OpenSSH 9.2 picks sntrup761x25519-sha512 (post-quantum hybrid, costly
    # in CPU), which paramiko does not offer; paramiko negotiates curve25519.
    same_kex = ssh.argv(node, "true")
    same_kex[1:1] = ["-o", "KexAlgorithms=curve25519-sha256"]
    ref_c = timed(lambda: run_ok(same_kex), max(5, iterations // 3))
    ROWS.append(Row("   diag: ref with KexAlgorithms=curve25519-sha256", ms(lab_med), ms(statistics.median(ref_c)),
                    f"{lab_med / statistics.median(ref_c):.2f}x", "-", None))
    phases = cold_breakdown(node, check)
    tr = paramiko.Transport(_open_socket(target_for(node), 8))
    try:
        tr.start_client(timeout=8)
        algos = f"hostkey {tr.host_key_type}, cipher {tr.local_cipher}, mac {tr.local_mac}"
    finally:
        tr.close()
    NOTES.append("cold breakdown (bare paramiko, median of 10): "
                 + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in phases.items())
                 + f"; negotiated {algos}")
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(10):
            labdeck_cold_once(node, check)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        print("---- cProfile of 10 cold LabDeck connect-and-runs (main thread only) ----")
        print(out.getvalue())


# --------------------------------------------------------------------------- 3. fan-out

def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sshd_cpu(nodes) -> float:
    """CPU seconds used so far by the sshd listeners, their live descendants (connection and
    session processes) and the descendants they have already reaped."""
    total = 0.0
    for node in nodes:
        if node.pid is None:
            continue
        try:
            listener = psutil.Process(node.pid)
            procs = [listener, *listener.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
    return total


def bench_fanout(nodes, ssh: OpenSsh, workdir: Path) -> None:
    from labdeck.core.models import Node, Transport
    from labdeck.engine.engine import Engine

    count = len(nodes)
    print(f"[3] `sleep 1` on {count} nodes through the Engine ...", flush=True)
    data_dir = workdir / "labdeck-data"
    setup = Engine(data_dir, seed=False)
    try:
        for sshd in nodes:
            setup.add_node(Node(name=sshd.name, transport=Transport.SSH, host=sshd.host, port=sshd.port,
                                username=sshd.user, key_file=str(sshd.key_file), tags=["bench"]),
                           accept_host_key=True)
    finally:
        setup.close()

    def engine_run(engine: Engine) -> float:
        t0 = time.perf_counter()
        run = engine.start_command("sleep 1", "tag:bench", timeout_s=30)
        finished = engine.wait(run.id, timeout=60)
        wall = time.perf_counter() - t0
        statuses = [nr.status for nr in engine.catalog.node_runs(run.id)]
        bad = [s for s in statuses if s != "succeeded"]
        if not finished or bad or len(statuses) != count:
            raise RuntimeError(f"fan-out run {run.id} did not succeed everywhere: finished={finished} {statuses}")
        return wall

    engine = Engine(data_dir, seed=False)  # a fresh Engine: its connection pool is empty
    try:
        cpu0 = (own_cpu(), sshd_cpu(nodes))
        cold = engine_run(engine)
        cpu1 = (own_cpu(), sshd_cpu(nodes))
        warm = engine_run(engine)
        cpu2 = (own_cpu(), sshd_cpu(nodes))
    finally:
        engine.close()
    NOTES.append(f"fan-out CPU: cold run used {cpu1[0] - cpu0[0]:.2f} s CPU in this process and "
                 f"{cpu1[1] - cpu0[1]:.2f} s in the {count} sshd servers; warm run {cpu2[0] - cpu1[0]:.2f} s "
                 f"here and {cpu2[1] - cpu1[1]:.2f} s in sshd (on {os.cpu_count()} cores shared by all of them)")

    def ssh_fanout() -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen(ssh.argv(n, "sleep", "1"), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in nodes]
        rcs = [p.wait(timeout=60) for p in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.stderr.close()
        if any(rcs):
            raise RuntimeError(f"ssh fan-out failed: {rcs}")
        return wall

    ref = ssh_fanout()
    for label, value in (("cold pool", cold), ("warm pool", warm)):
        ROWS.append(Row(f"3. `sleep 1` x{count} via Engine, {label}", f"{value:.3f} s", f"{ref:.3f} s",
                        f"{value / FANOUT_TARGET_S:.2f}x of target", f"<= {FANOUT_TARGET_S} s",
                        value <= FANOUT_TARGET_S))


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-iterations", type=int, default=200)
    parser.add_argument("--cold-iterations", type=int, default=30)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--login-rc", action="store_true",
                        help="let the remote login shell source ~/.bashrc (see the module docstring)")
    parser.add_argument("--profile", action="store_true", help="cProfile 10 cold LabDeck connects")
    args = parser.parse_args(argv)

    if not args.login_rc:
        sshd_support._CONFIG_TEMPLATE += "SetEnv SHLVL=1\n"  # bash then skips ~/.bashrc
    ssh_version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    print(f"LabDeck SSH benchmark: Python {platform.python_version()}, paramiko {paramiko.__version__}, "
          f"{ssh_version}, {os.cpu_count()} CPUs, login rc {'sourced' if args.login_rc else 'skipped'}")
    workdir = Path(tempfile.mkdtemp(prefix="labdeck-bench-"))
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    started = time.perf_counter()
    cluster = sshd_support.SshdCluster(workdir / "sshd")
    try:
        nodes = cluster.start_nodes(max(1, args.nodes))
        print(f"started {len(nodes)} sshd nodes in {time.perf_counter() - started:.1f} s", flush=True)
        ssh = OpenSsh(nodes, workdir)
        for name, fn in (("warm", lambda: bench_warm(nodes[0], ssh, args.warm_iterations)),
                         ("cold", lambda: bench_cold(nodes[0], ssh, args.cold_iterations, args.profile)),
                         ("fanout", lambda: bench_fanout(nodes, ssh, workdir))):
            try:
                fn()
            except Exception as exc:  # a report: show what failed and go on
                ROWS.append(Row(f"{name}: ERROR", "-", "-", "-", "-", False))
                NOTES.append(f"{name} failed: {exc.__class__.__name__}: {exc}")
    finally:
        cluster.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table("OpenSSH ref")
    print(f"total bench time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
