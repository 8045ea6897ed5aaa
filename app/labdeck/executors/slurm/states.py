"""Slurm job states in LabDeck's words, from ``squeue`` and ``sacct`` output (both asked with
``|``-separated columns; sacct with ``--parsable2``, whose default columns would cut
``OUT_OF_MEMORY`` short).

PENDING (and the other waiting states) is "queued" with Slurm's reason; COMPLETING is still
running (its processes are being cleaned up); the end states map to a node-run status with
Slurm's name in the message. The exit code comes from the batch script's marker file when it
wrote one."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.status import NodeRunStatus

SQUEUE_FORMAT = "%i|%T|%r"
SACCT_FIELDS = "JobID,State,ExitCode"

WAITING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
                     "RESIZING", "POWER_UP_NODE"})
RUNNING = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "STOPPED", "SUSPENDED", "UPDATE_DB"})
# end states -> the node-run status they become (COMPLETED with exit code 0 is success)
ENDED = {
    "COMPLETED": NodeRunStatus.SUCCEEDED,
    "FAILED": NodeRunStatus.FAILED,
    "OUT_OF_MEMORY": NodeRunStatus.FAILED,
    "BOOT_FAIL": NodeRunStatus.FAILED,
    "DEADLINE": NodeRunStatus.TIMED_OUT,
    "TIMEOUT": NodeRunStatus.TIMED_OUT,
    "CANCELLED": NodeRunStatus.CANCELLED,
    "REVOKED": NodeRunStatus.CANCELLED,
    "PREEMPTED": NodeRunStatus.CANCELLED,
    "NODE_FAIL": NodeRunStatus.UNREACHABLE,
    "SPECIAL_EXIT": NodeRunStatus.FAILED,
}
ENDED_MEANING = {
    "FAILED": "the job failed", "OUT_OF_MEMORY": "the job ran out of memory (its --mem)",
    "BOOT_FAIL": "the compute node failed to boot", "DEADLINE": "the job reached its deadline",
    "TIMEOUT": "the job reached its time limit (--time)", "CANCELLED": "the job was cancelled",
    "REVOKED": "the job was revoked", "PREEMPTED": "the job was preempted by another job",
    "NODE_FAIL": "a compute node of the job failed", "SPECIAL_EXIT": "the job ended in a special state",
}


@dataclass(frozen=True)
class JobState:
    """One job (or array task) as Slurm reports it: its id as Slurm prints it ("123" or
    "123_4"), the state name (without Slurm's "by UID" suffixes) and the reason or exit code."""
    job: str
    state: str
    reason: str = ""
    exit_code: int | None = None

    @property
    def waiting(self) -> bool:
        return self.state in WAITING

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def ended(self) -> bool:
        return not (self.waiting or self.running)


def _state_name(text: str) -> str:
    # sacct prints "CANCELLED by 0"; squeue can print "PENDING" etc.
    return text.strip().split(" ", 1)[0].rstrip("+").upper()


def parse_squeue(text: str) -> dict[str, JobState]:
    """``squeue -h -r -t all -o '%i|%T|%r'`` lines, by job id as printed."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0]:
            reason = parts[2].strip() if len(parts) > 2 else ""
            jobs[parts[0].strip()] = JobState(parts[0].strip(), _state_name(parts[1]),
                                              "" if reason in ("None", "(null)") else reason)
    return jobs


def parse_sacct(text: str) -> dict[str, JobState]:
    """``sacct -n -X -P -o JobID,State,ExitCode`` lines (``ExitCode`` is "CODE:SIGNAL")."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3 and parts[0]:
            code, _, signal = parts[2].partition(":")
            exit_code = int(code) if code.isdigit() else None
            if signal.isdigit() and int(signal):
                exit_code = 128 + int(signal)
            jobs[parts[0]] = JobState(parts[0], _state_name(parts[1]), exit_code=exit_code)
    return jobs


def end_status(state: JobState, marker_exit: int | None) -> tuple[NodeRunStatus, str]:
    """The node-run status of an ended job and the message naming Slurm's state. A marker exit
    code of 0 after COMPLETED is success; a non-zero one is a failure whatever Slurm says."""
    status = ENDED.get(state.state, NodeRunStatus.FAILED)
    if status is NodeRunStatus.SUCCEEDED:
        if marker_exit not in (None, 0):
            return NodeRunStatus.FAILED, f"Slurm: COMPLETED, exit code {marker_exit}"
        return status, ""
    meaning = ENDED_MEANING.get(state.state, "the job ended")
    return status, f"Slurm: {state.state} ({meaning})"
