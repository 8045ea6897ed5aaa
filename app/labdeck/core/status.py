"""Status values of runs and node runs, and which of them are final."""

from enum import StrEnum


class NodeRunStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"            # in a batch scheduler's queue (Slurm: PENDING); the message says why
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"            # the command ran and exited non-zero
    TIMED_OUT = "timed_out"      # killed by the engine's deadline
    CANCELLED = "cancelled"      # killed or skipped because the user cancelled
    UNREACHABLE = "unreachable"  # the node could not be reached or dropped mid-run
    ERROR = "error"              # could not start there: login refused, host key, upload failed
    INTERRUPTED = "interrupted"  # the controller that ran it went away before it finished
    NODE_LOST = "node_lost"      # a detached run's node stopped answering; it may still be running there
    LOST = "lost"                # a detached run's command is gone from its node without an exit status

    @property
    def is_final(self) -> bool:
        return self not in (NodeRunStatus.PENDING, NodeRunStatus.QUEUED, NodeRunStatus.RUNNING,
                            NodeRunStatus.NODE_LOST)


class RunStatus(StrEnum):
    QUEUED = "queued"      # waiting in the run queue for room on its nodes; nothing started yet
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    MISSED = "missed"      # a scheduled fire that did not run (LabDeck closed, asleep or busy)
    SKIPPED = "skipped"    # a scheduled fire not run because the job's previous run was still going

    @property
    def is_final(self) -> bool:
        return self not in (RunStatus.RUNNING, RunStatus.QUEUED)


class KillState(StrEnum):
    KILLED = "killed"                      # signalled and verified gone
    KILL_UNCONFIRMED = "kill_unconfirmed"  # signalled, but could not verify it is gone


RETRYABLE = frozenset({NodeRunStatus.FAILED, NodeRunStatus.TIMED_OUT, NodeRunStatus.UNREACHABLE})


def summarize_run(node_statuses: list[NodeRunStatus], cancel_requested: bool) -> RunStatus:
    """The status of a whole run from the final statuses of its node runs."""
    if node_statuses and all(s is NodeRunStatus.SUCCEEDED for s in node_statuses):
        return RunStatus.SUCCEEDED
    if cancel_requested:
        return RunStatus.CANCELLED
    if node_statuses and all(s in (NodeRunStatus.SUCCEEDED, NodeRunStatus.CANCELLED) for s in node_statuses):
        return RunStatus.CANCELLED  # the only non-successes are nodes the user cancelled: not a failure
    if any(s is NodeRunStatus.INTERRUPTED for s in node_statuses):
        return RunStatus.INTERRUPTED
    return RunStatus.FAILED
