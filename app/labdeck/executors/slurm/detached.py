"""A Slurm node run as a detached run the engine already knows how to follow: ``launch`` writes
the steps and the batch script into a run folder on the cluster's shared filesystem (over the
login node's SFTP) and submits it with sbatch, the Slurm job id taking the place of a process
group; ``status`` asks the cluster's shared ``SlurmQueue`` (one squeue per poll), ``sacct``
when squeue forgot the job, and the marker file; ``read`` streams the job's output files from
an offset; ``kill`` is scancel, then the state is confirmed."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from ...core.errors import LabDeckError
from ...core.models import SlurmSettings
from ...core.option_values import ValueFile
from ...core.status import KillState, NodeRunStatus
from ..base import LaunchLimits, ScriptFile
from ..detached_ops import OP_TIMEOUT_S, SshDetachedOps
from ..posix_detached import RUNS_ROOT, RemoteState
from ..ssh.connection import SshConnection
from .batch_script import (
    ArrayShape,
    batch_script,
    command_line,
    encode_array_task,
    items_script,
    parse_job_id,
    sbatch_argv,
    slurm_job_key,
)
from .queue import SlurmQueue, split_rc
from .states import end_status

ARRAY_TASK_ENV = "LABDECK_SLURM_ARRAY_TASK"  # "JOB:INDEX:FOLDER": launch joins a submitted array, not exported
MARKER_GRACE_S = 30.0   # a job gone from squeue without a marker yet: the shared filesystem may lag
CANCEL_CONFIRM_S = 15.0
SBATCH_TIMEOUT_S = 60.0


class SbatchRejected(LabDeckError):
    """sbatch refused the job; the message is Slurm's own."""


class SlurmDetachedOps(SshDetachedOps):
    carries_value_files = False  # a batch script carries every option value in its own environment
    enforces_timeout = True   # the job's --time: time in the queue does not count against it
    poll_max_s = 5.0

    def __init__(self, connection: SshConnection, settings: SlurmSettings, queue: SlurmQueue):
        super().__init__(connection)
        self.settings = settings
        self.queue = queue
        self._missing_since: dict[str, float] = {}

    def describe(self, job_id: int, remote_dir: str) -> str:
        where = f"partition {self.settings.partition}" if self.settings.partition else "the default partition"
        return f"Slurm job {slurm_job_key(job_id)} in {where}, output in ~/{remote_dir}"

    # ---- launching ---------------------------------------------------------------------

    def launch(self, remote_dir: str, steps: list[str | ScriptFile], env: dict[str, str],
               limits: LaunchLimits | None = None, value_files: list[ValueFile] | None = None) -> int:
        """Submit the steps as one batch job; its id. A task of an array already submitted
        (``ARRAY_TASK_ENV`` in ``env``) only links its run folder to the task's files.
        ``value_files`` are never given (carries_value_files): the engine refuses such values first."""
        if value_files:
            raise LabDeckError("a Slurm batch job carries its option values in its environment, not as files")
        if ARRAY_TASK_ENV in env:
            job, index, folder = env[ARRAY_TASK_ENV].split(":", 2)
            return self._join_array(remote_dir, int(job), int(index), folder)
        invocations = self._write_steps(remote_dir, steps)
        self._write(f"{remote_dir}/batch.sh", batch_script(invocations, env), 0o700)
        argv = sbatch_argv(remote_dir, "labdeck-" + Path(remote_dir).name, self.settings, limits or LaunchLimits())
        return self.submit(argv)

    def submit_array(self, tag: str, steps: list[str | ScriptFile], env: dict[str, str], items: dict[int, str],
                     limits: LaunchLimits, slots: int) -> tuple[int, str]:
        """All of an array's items as ONE ``sbatch --array`` (at most ``slots`` at once; 0: no
        limit): (the array's job id, its folder). Each task's output goes to ``out.<index>``."""
        remote_dir = self.run_dir(tag)
        invocations = self._write_steps(remote_dir, steps)
        self._write(f"{remote_dir}/batch.sh", batch_script(invocations, env, array=True), 0o700)
        self._write(f"{remote_dir}/items.sh", items_script(items))
        argv = sbatch_argv(remote_dir, "labdeck-" + tag, self.settings, limits, ArrayShape(tuple(items), slots))
        return self.submit(argv), remote_dir

    def _join_array(self, remote_dir: str, job: int, index: int, folder: str) -> int:
        d, a = shlex.quote(remote_dir), shlex.quote(folder)
        self._sh(f'mkdir -p {d} && A="$(cd {a} && pwd)" && ln -sfn "$A/out.{index}" {d}/out && '
                 f'ln -sfn "$A/err.{index}" {d}/err && ln -sfn "$A/exit.{index}" {d}/exit')
        return encode_array_task(job, index)

    def cancel_array(self, job: int) -> None:
        """scancel a whole array at once (its tasks' followers then see them cancelled)."""
        self._sh(f"scancel {int(job)}")

    def submit(self, argv: list[str]) -> int:
        """Run sbatch; its job id, or SbatchRejected with Slurm's message."""
        out = self._sh(command_line(argv) + " 2>&1; echo \"LABDECK_RC=$?\"", timeout=SBATCH_TIMEOUT_S)
        body, code = split_rc(out)
        job_id = parse_job_id(body) if code == 0 else None
        if job_id is None:
            said = " ".join(line.strip() for line in body.splitlines() if line.strip()) or f"exit code {code}"
            raise SbatchRejected(f"node '{self.node}': sbatch refused the job: {said}")
        self.queue.submitted(job_id)
        return job_id

    # ---- following ---------------------------------------------------------------------

    def status(self, remote_dir: str, pgid: int | None) -> RemoteState:
        job = slurm_job_key(pgid) if pgid else ""
        slurm = self.queue.state(job) if job else None
        if slurm is not None and slurm.waiting:
            why = f"Slurm: {slurm.state}" + (f", {slurm.reason}" if slurm.reason else "")
            return RemoteState("running", pgid=pgid, waiting=why)
        marker, out_size, err_size = self._files(remote_dir)
        if slurm is not None and slurm.running:
            return RemoteState("running", pgid=pgid, out_size=out_size, err_size=err_size)
        if slurm is None and job:
            slurm = self.queue.accounting(job)
        ended = RemoteState("exited", pgid=pgid, out_size=out_size, err_size=err_size)
        if marker is not None:
            ended.exit_code, ended.step = marker
        if slurm is not None and slurm.ended:
            if marker is not None and slurm.state in ("COMPLETED", "FAILED"):
                return ended  # the marker's exit code and step, worded as on SSH nodes
            status, message = end_status(slurm, ended.exit_code)
            if status is NodeRunStatus.SUCCEEDED:
                ended.exit_code = 0
                return ended
            ended.ended_as, ended.message = status, message
            if ended.exit_code is None:
                ended.exit_code = slurm.exit_code
            return ended
        if marker is not None:
            return ended
        # neither Slurm nor the marker knows it (yet): the shared filesystem may lag a little
        first = self._missing_since.setdefault(job, time.monotonic())
        if time.monotonic() - first < MARKER_GRACE_S:
            return RemoteState("running", pgid=pgid, out_size=out_size, err_size=err_size)
        return RemoteState("gone", pgid=pgid, out_size=out_size, err_size=err_size)

    def _files(self, remote_dir: str) -> tuple[tuple[int, int] | None, int, int]:
        """The marker ("CODE STEP", or None) and the sizes of out and err, in one command."""
        d = shlex.quote(remote_dir)
        out = self._sh(f"D={d}; size() {{ if [ -f \"$1\" ]; then wc -c < \"$1\" | tr -d ' '; else echo 0; fi; }}; "
                       'echo "MARK $(cat "$D/exit" 2>/dev/null)"; echo "SIZES $(size "$D/out") $(size "$D/err")"')
        marker, sizes = None, (0, 0)
        for line in out.splitlines():
            words = line.split()
            if words[:1] == ["MARK"] and len(words) >= 3 and words[1].lstrip("-").isdigit() and words[2].isdigit():
                marker = (int(words[1]), int(words[2]))
            elif words[:1] == ["SIZES"] and len(words) >= 3 and words[1].isdigit() and words[2].isdigit():
                sizes = (int(words[1]), int(words[2]))
        return marker, sizes[0], sizes[1]

    # ---- stopping and cleaning up ------------------------------------------------------

    def kill(self, pgid: int, grace_s: float, token: str = "") -> KillState:
        """scancel the job (pending or running), then wait until Slurm reports it ended. The run token
        is not searched for: Slurm ends every process of the job step it tracks."""
        job = slurm_job_key(pgid)
        try:
            self._sh(f"scancel {job}")
            end = time.monotonic() + CANCEL_CONFIRM_S + grace_s
            while time.monotonic() < end:
                state = self.queue.state(job)
                if state is None or state.ended:
                    return KillState.KILLED
                time.sleep(0.5)
        except LabDeckError:
            pass
        return KillState.KILL_UNCONFIRMED

    def cleanup(self, older_than_min: int) -> None:
        """Run folders of batch jobs that ended (a marker file) more than the retention ago."""
        m = int(older_than_min)
        self._sh(f"R={RUNS_ROOT}; [ -d \"$R\" ] || exit 0; "
                 f'find "$R" -mindepth 1 -maxdepth 1 -type d -mmin +{m} | while read -r d; do '
                 f'  [ -f "$d/batch.sh" ] && [ -s "$d/exit" ] && [ -n "$(find "$d/exit" -mmin +{m})" ] && rm -rf "$d"; '
                 "done; echo CLEANED", timeout=60)


__all__ = ["SlurmDetachedOps", "SbatchRejected", "OP_TIMEOUT_S"]
