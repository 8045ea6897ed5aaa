"""A real single-host Slurm cluster for the tests: munged with a generated key, slurmctld and
slurmd with a generated ``slurm.conf`` in a temporary folder, run as root and stopped
afterwards. Nothing is emulated: Debian's ``slurm-wlm`` and ``munge`` packages.

Where the container lets it (a writable cgroup v1 memory controller, see
``memory_enforcement_missing``), the cluster tracks and confines jobs with cgroups as real
clusters do (``proctrack/cgroup``, ``task/cgroup``, ``ConstrainRAMSpace``): a job exceeding its
``--mem`` is killed by the kernel and ends as Slurm's OUT_OF_MEMORY. Elsewhere it needs no
cgroups (``proctrack/linuxproc``, ``task/none``) and memory is only booked.

One node ``n1`` with the machine's real CPU count, 2000 MB of memory and two GPUs (count-only
gres on /dev/null and /dev/zero: Slurm hands out the count, nothing more), in one partition
``debug``; no accounting daemon, so ``sacct`` does not answer (as on many clusters).
The client commands find the cluster through ``SLURM_CONF`` (``env``); the tests' login node is
a test sshd that sets it for its sessions."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
READY_TIMEOUT_S = 30.0
STOP_JOBS_TIMEOUT_S = 20.0
ENDED_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"}
NODE = "n1"
PARTITION = "debug"
MEMORY_MB = 2000
GPUS = 2
CGROUP_ROOT = "/sys/fs/cgroup"


def slurm_missing() -> str | None:
    """Why a real cluster cannot start here, or None."""
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the test Slurm cluster runs its daemons as root"
    return None


def memory_enforcement_missing() -> str | None:
    """Why the test cluster cannot confine a job's memory here, or None. Slurm 22.05 on cgroup v2
    needs systemd (dbus) to delegate a cgroup, which a container lacks; a cgroup v1 memory
    controller mounted read-write is enough."""
    memory = Path(CGROUP_ROOT, "memory")
    if not (memory / "memory.limit_in_bytes").exists():
        return f"no cgroup v1 memory controller at {memory} (Slurm's task/cgroup confines memory with it)"
    if not os.access(memory, os.W_OK):
        return f"the cgroup v1 memory controller at {memory} is read-only in this container"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SlurmCluster:
    workdir: Path
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    ports: tuple[int, int] = (0, 0)
    enforces_memory: bool = field(default_factory=lambda: memory_enforcement_missing() is None)
    # job ids start at a random number (below Slurm's MaxJobId, 67,043,328): cgroup folders are
    # named by job id, and two test clusters on one machine (two test runs) must not share one
    first_job_id: int = field(default_factory=lambda: 1000 * secrets.randbelow(60_000) + 1000)
    _procs: list[int] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.workdir / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def _path(self, name: str) -> Path:
        return self.workdir / name

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> SlurmCluster:
        for sub in ("state", "spool", "log", "munge"):
            self._path(sub).mkdir(parents=True, exist_ok=True)
        key = self._path("munge/munge.key")
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o600)
        subprocess.run(["munged", f"--key-file={key}", f"--socket={self._path('munge/munge.socket')}",
                        f"--pid-file={self._path('munge/munged.pid')}", f"--log-file={self._path('munge/munged.log')}",
                        f"--seed-file={self._path('munge/seed')}", "--force"], check=True, capture_output=True)
        self.ports = (_free_port(), _free_port())
        self._write_config()
        self.start_controller(clear_state=True)
        subprocess.run(["slurmd", "-f", str(self.conf), "-N", NODE], check=True, capture_output=True,
                       env=os.environ | self.env)
        self._wait_idle()
        return self

    def start_controller(self, clear_state: bool = False) -> None:
        argv = ["slurmctld", "-f", str(self.conf)] + (["-i"] if clear_state else ["-R"])
        subprocess.run(argv, check=True, capture_output=True, env=os.environ | self.env)
        self._wait(lambda: self.run("squeue", "-h", check=False).returncode == 0, "slurmctld to answer")

    def save_state(self) -> None:
        """Make slurmctld write its job state now. It writes it in the background some time
        after a change: killed right after a job started, it would come back believing the job
        still pending, start it again and requeue it (Slurm's behaviour, not LabDeck's)."""
        state = self._path("state/job_state")
        before = state.stat().st_mtime if state.exists() else 0
        going = [job for job, state in self.squeue().items() if state in ("RUNNING", "PENDING")]
        if going:
            self.run("scontrol", "update", f"jobid={going[0]}", "comment=labdeck-test", check=False)
            self._wait(lambda: state.exists() and state.stat().st_mtime > before, "slurmctld to save its state")

    @contextlib.contextmanager
    def min_job_age(self, seconds: int):
        """For a while, squeue forgets finished jobs after ``seconds`` (MinJobAge; the purge
        runs every few seconds), as a busy cluster's would between two LabDeck starts."""
        text = self.conf.read_text()
        self.conf.write_text(text.replace("MinJobAge=300", f"MinJobAge={int(seconds)}"))
        self.run("scontrol", "reconfigure")
        try:
            yield
        finally:
            self.conf.write_text(text)
            self.run("scontrol", "reconfigure", check=False)

    def kill_controller(self) -> None:
        """SIGKILL slurmctld (what a crash does); its state stays in the state folder."""
        pid = self._pid("slurmctld.pid")
        if pid:
            os.kill(pid, signal.SIGKILL)
            self._wait(lambda: not _alive(pid), "slurmctld to die")

    def stop(self) -> None:
        # the test cluster's own jobs first (this SLURM_CONF reaches only this cluster), and
        # until Slurm has recorded their end: a slurmstepd that cannot tell a stopped slurmctld
        # its job ended retries for ever (cgroup tracking takes long enough to hit that)
        self.run("scancel", "--full", "-u", "root", check=False)
        end = time.monotonic() + STOP_JOBS_TIMEOUT_S
        while time.monotonic() < end and self._jobs_going():
            time.sleep(0.2)
        for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            pid = self._pid(name)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 10
        for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            pid = self._pid(name)
            while pid and _alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for pid in self._own_stepds():  # one still there would wait for its slurmd for ever
            os.kill(pid, signal.SIGKILL)

    def _jobs_going(self) -> bool:
        done = self.run("squeue", "-h", "-r", "-t", "all", "-o", "%T", check=False)
        return done.returncode == 0 and any(state not in ENDED_STATES for state in done.stdout.split())

    def _own_stepds(self) -> list[int]:
        """This cluster's slurmstepd processes (they run in its slurmd's log folder)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "comm").read_text().strip() == "slurmstepd" \
                        and Path(os.readlink(proc / "cwd")).is_relative_to(self.workdir):
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    # ---- helpers -----------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30,
                              env=os.environ | self.env)

    def squeue(self) -> dict[str, str]:
        """Job id (as printed, "12" or "12_3") -> state, for all jobs Slurm still lists."""
        out = self.run("squeue", "-h", "-r", "-t", "all", "-o", "%i|%T").stdout
        return dict(line.split("|", 1) for line in out.split())

    def _pid(self, name: str) -> int | None:
        try:
            return int(self._path(name).read_text().strip())
        except (OSError, ValueError):
            return None

    def _wait(self, predicate, what: str) -> None:
        end = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < end:
            if predicate():
                return
            time.sleep(0.2)
        logs = "".join(p.read_text()[-2000:] for p in self._path("log").glob("*.log"))
        raise RuntimeError(f"timed out waiting for {what}; logs:\n{logs}")

    def _wait_idle(self) -> None:
        self._wait(lambda: "idle" in self.run("sinfo", "-h", "-o", "%t", check=False).stdout, "node n1 to be idle")

    def _write_config(self) -> None:
        d = self.workdir
        host = socket.gethostname()
        (d / "gres.conf").write_text(f"AutoDetect=off\nNodeName={NODE} Name=gpu File=/dev/null\n"
                                     f"NodeName={NODE} Name=gpu File=/dev/zero\n")
        if self.enforces_memory:
            (d / "cgroup.conf").write_text(f"CgroupPlugin=cgroup/v1\nCgroupMountpoint={CGROUP_ROOT}\n"
                                           "ConstrainRAMSpace=yes\nConstrainSwapSpace=yes\nAllowedSwapSpace=0\n")
            tracking = "ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup\nJobAcctGatherType=jobacct_gather/cgroup"
        else:
            (d / "cgroup.conf").write_text("")
            tracking = "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none"
        (d / "plugstack.conf").write_text("")
        node_line = (f"NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={MEMORY_MB} "
                     f"Gres=gpu:{GPUS} State=UNKNOWN")
        self.conf.write_text(f"""# generated by tests/support/slurm.py
ClusterName=labdeck-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={self.ports[0]}
SlurmdPort={self.ports[1]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
PlugStackConfig={d}/plugstack.conf
{tracking}
FirstJobId={self.first_job_id}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
GresTypes=gpu
{node_line}
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def add_cluster(engine, login, name: str = "hpc", check: bool = True, **settings):
    """The test cluster as a LabDeck node reached through ``login`` (its host key accepted)."""
    from labdeck.core.models import Node, SlurmSettings, Transport
    node = Node(name=name, transport=Transport.SLURM, host=login.host, port=login.port, username=login.user,
                key_file=str(login.key_file), slurm=SlurmSettings(**settings))
    engine.add_node(node, accept_host_key=True, check=check)
    return node


def node_runs_of(engine, run_id: int):
    """A run's node runs, or its task runs' (a job with resources runs as tasks)."""
    from labdeck.store.run_queue import task_runs
    children = [child.id for child, _ in task_runs(engine.catalog, run_id)]
    return [nr for rid in children or [run_id] for nr in engine.catalog.node_runs(rid)]


def slurm_job_of(engine, node_run_id: int) -> str:
    """The Slurm job id ("123", or "123_4" for an array task) LabDeck recorded for a node run."""
    from labdeck.store.detached import DetachedStore
    from tests.support.waiting import wait_for
    store = DetachedStore(engine.catalog)
    return str(wait_for(lambda: (store.get(node_run_id) or None) and store.get(node_run_id).pgid, 30,
                        "the Slurm job id"))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    why = slurm_missing()
    if why:
        pytest.skip(why)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def login(slurm, sshd_cluster):
    """The cluster's login node: a test sshd whose sessions reach the cluster (SLURM_CONF)."""
    (node,) = sshd_cluster.start_nodes(1, prefix="login")
    node.extra_env = slurm.env
    node.stop()
    node.start()
    yield node
    node.stop()
