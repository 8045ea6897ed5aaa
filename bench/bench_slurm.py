"""Slurm: what LabDeck costs on top of Slurm's own commands, measured in the same run.

    .venv/bin/python -m bench.bench_slurm [--items 1000] [--jobs 20] [--polls 30]

Starts a real single-host Slurm cluster (tests/support/slurm.py) behind a test sshd as its
login node, and measures:

1. array  -- a job with an array of ``--items`` items on the cluster: the number of sbatch
             calls LabDeck makes (target: exactly 1) and the time from ``start_job`` until the
             array is in Slurm's queue, against a bare ``sbatch --array=0-N`` of the same size
             over OpenSSH (ControlMaster). The array is cancelled right after (one scancel).
2. poll   -- with ``--jobs`` jobs in the queue, one poll: LabDeck's shared squeue snapshot
             (``SlurmQueue``, over its pooled paramiko connection, parsed) against a bare
             ``squeue`` with the same columns over a reused OpenSSH ControlMaster connection.
             Also the squeue calls LabDeck makes while following every job for a while
             (target: one per poll interval whatever the number of jobs).

Always exits 0: this is a report, not a test. Needs root and slurm-wlm + munge.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from labdeck.core.job_plan import ArraySpec, Plan  # noqa: E402
from labdeck.core.models import Job, Node, SlurmSettings, Step, Transport  # noqa: E402
from labdeck.engine.engine import Engine  # noqa: E402
from labdeck.executors.slurm.detached import SlurmDetachedOps  # noqa: E402
from labdeck.executors.slurm.queue import SQUEUE_COMMAND  # noqa: E402
from tests.support.slurm import SlurmCluster, slurm_missing  # noqa: E402
from tests.support.sshd import SshdCluster  # noqa: E402


def ssh_master(login, control: Path) -> list[str]:
    """argv prefix reusing one OpenSSH connection (started here)."""
    base = login.ssh_args()[:-1] + ["-o", f"ControlPath={control}"]
    subprocess.run(base[:1] + ["-o", "ControlMaster=yes", "-o", "ControlPersist=120", "-fN"] + base[1:]
                   + [login.ssh_args()[-1]], check=True)
    return base + [login.ssh_args()[-1]]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_array(engine: Engine, slurm: SlurmCluster, ssh: list[str], items: int) -> None:
    calls = []
    original = SlurmDetachedOps.submit

    def counting(self, argv):
        calls.append(argv)
        return original(self, argv)

    SlurmDetachedOps.submit = counting
    try:
        engine.catalog.add_job(Job(name="big-array", targets="hpc", steps=[Step(command="true")],
                                   plan=Plan(array=ArraySpec(count=items, slots_per_node=2))), replace=True)
        before = set(slurm.squeue())
        started = time.perf_counter()
        run = engine.start_job("big-array")
        while not calls or not (set(slurm.squeue()) - before):
            time.sleep(0.02)
        labdeck_s = time.perf_counter() - started
        engine.cancel(run.id)
        engine.wait(run.id, 600)
    finally:
        SlurmDetachedOps.submit = original
    started = time.perf_counter()
    out = subprocess.run(ssh + [f"sbatch --parsable --array=0-{items - 1}%2 -o /dev/null --wrap true"],
                         capture_output=True, text=True, check=True).stdout.strip()
    bare_s = time.perf_counter() - started
    slurm.run("scancel", out.split(";")[0], check=False)
    arrays = [a for a in calls if any(x.startswith("--array=") for x in a)]
    print(f"array  {items} items: LabDeck made {len(calls)} sbatch call(s) ({len(arrays)} with --array); "
          f"in Slurm's queue {labdeck_s * 1000:.0f} ms after start_job (run recorded, script and items uploaded) "
          f"vs bare sbatch over ssh {bare_s * 1000:.0f} ms: ratio {labdeck_s / bare_s:.1f}x")


def bench_poll(engine: Engine, slurm: SlurmCluster, ssh: list[str], jobs: int, polls: int) -> None:
    ids = [slurm.run("sbatch", "--parsable", "-o", "/dev/null", "--mem=10", "--wrap", "sleep 300").stdout.strip()
           for _ in range(jobs)]
    queue = engine.pool.get(engine.catalog.get_node("hpc")).queue
    queue.state(ids[0], fresh=True)  # connection up
    labdeck, bare = [], []
    for _ in range(polls):
        t = time.perf_counter()
        queue.state(ids[0], fresh=True)
        labdeck.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(ssh + [SQUEUE_COMMAND], capture_output=True, check=True)
        bare.append(time.perf_counter() - t)
    lab, ref = median_ms(labdeck), median_ms(bare)
    print(f"poll   {jobs} jobs queued: LabDeck squeue snapshot {lab:.1f} ms vs bare squeue over ssh "
          f"(ControlMaster) {ref:.1f} ms: ratio {lab / ref:.2f}x, overhead {lab - ref:+.1f} ms per poll")
    # following every job at once shares one squeue a second (each job asked once first: a job
    # first asked after the last snapshot gets a fresh one, so a new job is never taken for gone)
    for job in ids:
        queue.state(job)
    calls_before, t = queue.squeue_calls, time.monotonic()
    end = t + 10
    while time.monotonic() < end:
        for job in ids:
            queue.state(job)
        time.sleep(0.1)
    elapsed = time.monotonic() - t
    print(f"poll   {jobs} jobs asked every 0.1 s for {elapsed:.0f} s: {queue.squeue_calls - calls_before} squeue calls "
          f"({(queue.squeue_calls - calls_before) / elapsed:.2f}/s; one per job per ask would be "
          f"{jobs * elapsed / 0.1:.0f})")
    for job in ids:
        slurm.run("scancel", job, check=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--polls", type=int, default=30)
    args = parser.parse_args()
    why = slurm_missing()
    if why:
        print(f"skipped: {why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        tmp_path = Path(tmp)
        slurm = SlurmCluster(tmp_path / "slurm").start()
        sshd = SshdCluster(tmp_path / "sshd")
        try:
            (login,) = sshd.start_nodes(1, prefix="login")
            login.extra_env = slurm.env
            login.stop()
            login.start()
            engine = Engine(tmp_path / "data")
            try:
                engine.add_node(Node("hpc", Transport.SLURM, host=login.host, port=login.port, username=login.user,
                                     key_file=str(login.key_file), slurm=SlurmSettings()), accept_host_key=True)
                ssh = ssh_master(login, tmp_path / "cm.sock")
                print(f"Slurm {slurm.run('sinfo', '--version').stdout.split()[-1]}, {slurm.cpus} CPUs, "
                      f"{time.strftime('%Y-%m-%d')}")
                bench_array(engine, slurm, ssh, args.items)
                bench_poll(engine, slurm, ssh, args.jobs, args.polls)
            finally:
                engine.close()
        finally:
            sshd.stop_all()
            slurm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
