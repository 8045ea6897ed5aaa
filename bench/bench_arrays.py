"""Array jobs: LabDeck's run queue against a hand-made OpenSSH "array runner", in the same run.

    /tmp/venv/bin/python -m bench.bench_arrays [--items 200] [--nodes 5] [--slots 2] [--work 0.05]

Starts throw-away sshd servers on loopback (tests/support/sshd.py) and runs ``--items`` tasks
of ``sleep WORK`` over ``--nodes`` nodes, at most ``--slots`` at once per node:

1. LabDeck -- an ``array:`` job through the Engine: every item is placed by the run queue,
              recorded as a task run with its own log, and executed over a pooled connection.
2. reference -- ``--nodes x --slots`` worker threads, each taking the next item and running
              ``ssh`` over a ControlMaster opened beforehand to its node (the cheapest way to
              do the same with the OpenSSH client and no bookkeeping at all).

Rows: wall time of both, with the ratio (target: LabDeck <= 1.5x the reference), and the
median gap between an item ending and the next one starting in the same slot (diagnostic).
Always exits 0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import queue
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

import tests.support.sshd as sshd_support  # noqa: E402
from bench.bench_ssh import OpenSsh, run_ok  # noqa: E402
from bench.report import NOTES, ROWS, Row, print_table  # noqa: E402

TARGET = 1.5


def bench_labdeck(nodes, workdir: Path, items: int, slots: int, work: float) -> tuple[float, list[float]]:
    from labdeck.core.models import Node, Transport
    from labdeck.engine.engine import Engine
    from labdeck.store import run_queue
    from labdeck.store.jobfile import job_from_yaml

    with Engine(workdir / "labdeck-data", seed=False) as engine:
        for sshd in nodes:
            engine.add_node(Node(name=sshd.name, transport=Transport.SSH, host=sshd.host, port=sshd.port,
                                 username=sshd.user, key_file=str(sshd.key_file), tags=["bench"]),
                            accept_host_key=True)
        engine.catalog.add_job(job_from_yaml(f"name: sweep\ntargets: tag:bench\narray: {items}\n"
                                             f"slots_per_node: {slots}\nsteps: ['sleep {work}']\n"))
        engine.start_command("true", "tag:bench")  # open the pooled connections first, as the reference does
        time.sleep(1)
        t0 = time.perf_counter()
        run = engine.start_job("sweep")
        engine.wait(run.id)
        wall = time.perf_counter() - t0
        status = engine.catalog.get_run(run.id).status
        if status != "succeeded":
            raise RuntimeError(f"the array run ended {status}: {engine.catalog.get_run(run.id).note}")
        tasks = run_queue.task_runs(engine.catalog, run.id)
    by_node: dict[str, list[tuple[float, float]]] = {}
    for _, nr in tasks:
        by_node.setdefault(nr["node_name"], []).append((nr["started_at"], nr["finished_at"]))
    gaps = []
    for spans in by_node.values():
        ends = sorted(end for _, end in spans)
        for start, _ in sorted(spans)[slots:]:
            earlier = [e for e in ends if e <= start]
            if earlier:
                gaps.append(start - earlier[-1])
    return wall, gaps


def bench_reference(nodes, ssh: OpenSsh, items: int, slots: int, work: float) -> float:
    for node in nodes:
        run_ok(ssh.argv(node, "true", mux=True))  # the ControlMaster, opened before the clock starts
    todo: queue.Queue[int] = queue.Queue()
    for i in range(items):
        todo.put(i)
    failures: list[str] = []

    def worker(node) -> None:
        while True:
            try:
                todo.get_nowait()
            except queue.Empty:
                return
            proc = subprocess.run(ssh.argv(node, "sleep", str(work), mux=True), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=60)
            if proc.returncode:
                failures.append(proc.stderr.decode(errors="replace"))

    threads = [threading.Thread(target=worker, args=(node,)) for node in nodes for _ in range(slots)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for node in nodes:
        ssh.stop_master(node)
    if failures:
        raise RuntimeError(f"reference items failed: {failures[:3]}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--work", type=float, default=0.05, help="seconds each item sleeps on its node")
    args = parser.parse_args()
    sshd_support._CONFIG_TEMPLATE += "SetEnv SHLVL=1\n"  # as bench_ssh: the box's ~/.bashrc is not measured
    with tempfile.TemporaryDirectory(prefix="labdeck-bench-arrays-") as tmp:
        workdir = Path(tmp)
        cluster = sshd_support.SshdCluster(workdir / "sshd")
        try:
            nodes = cluster.start_nodes(args.nodes)
            ssh = OpenSsh(nodes, workdir)
            label = f"{args.items} x `sleep {args.work:g}` over {args.nodes} nodes x {args.slots} slots"
            print(f"[1] {label} ...", flush=True)
            ours, gaps = bench_labdeck(nodes, workdir, args.items, args.slots, args.work)
            ref = bench_reference(nodes, ssh, args.items, args.slots, args.work)
        finally:
            cluster.stop_all()
    ROWS.append(Row(f"array {label}", f"{ours:.2f} s", f"{ref:.2f} s", f"{ours / ref:.2f}x", f"<= {TARGET}x",
                    ours / ref <= TARGET))
    if gaps:
        ROWS.append(Row("slot refill: item end -> next start (median)", f"{statistics.median(gaps) * 1e3:.0f} ms",
                        "-", "-", "-", None))
    ideal = args.items / (args.nodes * args.slots) * args.work
    NOTES.append(f"ideal wall time with no overhead at all: {ideal:.2f} s; LabDeck {args.items / ours:.0f} items/s, "
                 f"reference {args.items / ref:.0f} items/s")
    print_table("OpenSSH worker pool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
