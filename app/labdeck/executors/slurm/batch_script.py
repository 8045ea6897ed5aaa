"""The batch script and the sbatch command line of one node run on a Slurm cluster.

The script runs the node run's steps in order until one fails, like the detached launcher of
SSH nodes (options and ``LABDECK_*`` variables exported with the same quoting), and writes the
marker file ``exit`` ("CODE STEP") at the end: the source of truth for the exit code when
neither ``squeue`` nor ``sacct`` knows the job any more. Resources and the timeout go on the
sbatch command line: ``--cpus-per-task``, ``--mem``, ``--gres=gpu:N``, ``--time``."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from ...core.models import SlurmSettings
from ..base import LaunchLimits as Limits

ARRAY_ENV = "LABDECK_ARRAY_INDEX"


@dataclass(frozen=True)
class ArrayShape:
    """An array job: the task indexes, at most ``slots`` running at once (0: no limit)."""
    indices: tuple[int, ...]
    slots: int = 0

    def spec(self) -> str:
        return array_spec(list(self.indices), self.slots)


def time_limit(timeout_s: float) -> str:
    """Slurm's ``--time`` in minutes (its resolution), rounded up: D-HH:MM:SS."""
    minutes = max(1, math.ceil(timeout_s / 60))
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def batch_script(step_invocations: list[str], env: dict[str, str], array: bool = False) -> str:
    """The script sbatch runs on a compute node; ``$1`` is the run folder on the shared filesystem.
    In an array each task writes its own marker ``exit.<index>`` and gets its index as
    LABDECK_ARRAY_INDEX and its item as LABDECK_ITEM (from ``items.sh``, see ``items_script``)."""
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    steps = "".join(f"if [ $rc -eq 0 ]; then step={i}; {inv}; rc=$?; fi\n"
                    for i, inv in enumerate(step_invocations, 1))
    marker = '"$D/exit.$SLURM_ARRAY_TASK_ID"' if array else '"$D/exit"'
    index = (f'export {ARRAY_ENV}="$SLURM_ARRAY_TASK_ID"\n. "$D/items.sh"\nexport LABDECK_ITEM\n' if array else "")
    return (
        "#!/bin/sh\n"
        "# LabDeck batch script: one node run's steps as one Slurm job.\n"
        'D="$1"\n'
        f"{exports}{index}"
        "rc=0; step=0\n"
        f"{steps}"
        f"printf '%s %s\\n' \"$rc\" \"$step\" > {marker}.tmp && mv {marker}.tmp {marker}\n"
        "exit $rc\n"
    )


def sbatch_argv(remote_dir: str, job_name: str, settings: SlurmSettings, limits: Limits,
                array: ArrayShape | None = None) -> list[str]:
    """The sbatch command (run from the login directory, so ``remote_dir`` may be relative)."""
    suffix = ".%a" if array else ""
    argv = ["sbatch", "--parsable", f"--job-name={job_name}", "--open-mode=append",
            f"--output={remote_dir}/out{suffix}", f"--error={remote_dir}/err{suffix}"]
    if array:
        argv.append(f"--array={array.spec()}")
    if settings.partition:
        argv.append(f"--partition={settings.partition}")
    if settings.account:
        argv.append(f"--account={settings.account}")
    if limits.cpus:
        argv.append(f"--cpus-per-task={max(1, math.ceil(limits.cpus))}")
    if limits.memory_mb:
        argv.append(f"--mem={int(limits.memory_mb)}M")
    if limits.gpus:
        argv.append(f"--gres=gpu:{int(limits.gpus)}")
    if limits.timeout_s:
        argv.append(f"--time={time_limit(limits.timeout_s)}")
    argv += list(settings.sbatch_args)
    argv += [f"{remote_dir}/batch.sh", remote_dir]
    return argv


def parse_job_id(stdout: str) -> int | None:
    """``sbatch --parsable`` prints "JOBID" or "JOBID;CLUSTER"."""
    for line in stdout.splitlines():
        head = line.strip().split(";", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def items_script(items: dict[int, str]) -> str:
    """Sets LABDECK_ITEM for the array task ``$SLURM_ARRAY_TASK_ID`` (items quoted for sh: an item
    can hold any text)."""
    cases = "".join(f"{index}) LABDECK_ITEM={shlex.quote(item)};;\n" for index, item in sorted(items.items()))
    return f'case "$SLURM_ARRAY_TASK_ID" in\n{cases}*) LABDECK_ITEM=;;\nesac\n'


def array_spec(indices: list[int], slots: int) -> str:
    """``--array``'s value: ranges of the indices (a re-run of failed items is a list), %slots."""
    ranges, start, prev = [], None, None
    for i in sorted(set(indices)):
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            ranges.append(f"{start}-{prev}" if prev > start else str(start))
            start = prev = i
    if start is not None:
        ranges.append(f"{start}-{prev}" if prev > start else str(start))
    return ",".join(ranges) + (f"%{slots}" if slots else "")


# An array task's id in the catalog's "process group" column: negative, job * 10**7 + index
# (Slurm's MaxArraySize is at most 4,000,001), so a single job's positive id never clashes.
ARRAY_SPAN = 10**7


def encode_array_task(job_id: int, index: int) -> int:
    return -(job_id * ARRAY_SPAN + index)


def slurm_job_key(pgid: int) -> str:
    """What squeue, sacct and scancel call the job: "123", or "123_7" for an array task."""
    if pgid < 0:
        job, index = divmod(-pgid, ARRAY_SPAN)
        return f"{job}_{index}"
    return str(pgid)
