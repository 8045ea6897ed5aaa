"""One ``squeue`` call per poll for all of a cluster's jobs this LabDeck follows.

Every node run on a Slurm cluster asks its job's state on each poll; those asks share one
snapshot of the user's jobs, taken at most every ``max_age_s`` (polling one command per job
overloads the controller, a lesson from other projects' Slurm bugs). A job submitted after
the snapshot was taken triggers a fresh one, so a job just submitted is never taken for gone
(an array's thousand tasks: one fresh snapshot, not one each).
``sacct`` is asked only for a job ``squeue`` no longer knows (it forgets finished jobs after
MinJobAge), and not again once it said it cannot answer (no slurmdbd)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .states import SACCT_FIELDS, SQUEUE_FORMAT, JobState, parse_sacct, parse_squeue

SQUEUE_COMMAND = f"squeue -h -r -t all -u \"$(id -un)\" -o '{SQUEUE_FORMAT}'"
MAX_AGE_S = 1.0

RunQuick = Callable[[str, float], str]


class SlurmQueue:
    def __init__(self, run_quick: RunQuick, max_age_s: float = MAX_AGE_S):
        self._run_quick = run_quick
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._snapshot: dict[str, JobState] = {}
        self._taken_at = float("-inf")   # time.monotonic() when the last squeue call started
        self._submitted_at: dict[str, float] = {}   # job id (an array's base id) -> when sbatch returned
        self._sacct_works: bool | None = None
        self.squeue_calls = 0             # for tests and the bench: calls made, whatever the job count

    def state(self, job: str, fresh: bool = False) -> JobState | None:
        """The job's state in a snapshot not older than ``max_age_s`` (``fresh``: taken now);
        None if squeue does not list it."""
        with self._lock:
            now = time.monotonic()
            submitted = self._submitted_at.get(job.split("_", 1)[0], float("-inf"))
            if fresh or now - self._taken_at >= self._max_age_s or self._taken_at < submitted:
                self._refresh()
            return self._snapshot.get(job)

    def _refresh(self) -> None:
        taken_at = time.monotonic()
        out = self._run_quick(SQUEUE_COMMAND + "; echo \"LABDECK_RC=$?\"", 20)
        self.squeue_calls += 1
        body, code = split_rc(out)
        if code != 0:  # the controller did not answer: keep what we knew, ask again next time
            return
        self._snapshot, self._taken_at = parse_squeue(body), taken_at

    def accounting(self, job: str) -> JobState | None:
        """What sacct says about a finished job, or None (not known, or no accounting here)."""
        if self._sacct_works is False:
            return None
        out = self._run_quick(f"sacct -n -X -P -j {job} -o {SACCT_FIELDS} 2>&1; echo \"LABDECK_RC=$?\"", 20)
        body, code = split_rc(out)
        if code != 0:
            self._sacct_works = False
            return None
        self._sacct_works = True
        return parse_sacct(body).get(job)

    def submitted(self, job_id: int) -> None:
        """sbatch just returned this id: the next ask must not use an older snapshot."""
        with self._lock:
            self._submitted_at[str(job_id)] = time.monotonic()


def split_rc(out: str) -> tuple[str, int | None]:
    """Output of ``COMMAND; echo "LABDECK_RC=$?"``: (what the command printed, its exit code)."""
    head, sep, tail = out.rpartition("LABDECK_RC=")
    if not sep:
        return out, None
    code = tail.strip()
    return head, int(code) if code.isdigit() else None
