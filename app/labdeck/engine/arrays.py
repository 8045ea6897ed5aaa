"""An array run: one task per item (``array: N``, ``over:`` a list, or the lines of
``over_file``), spread over the job's target nodes with at most ``slots_per_node`` of its
tasks on a node at once. Each task gets ``LABDECK_ARRAY_INDEX`` and ``LABDECK_ITEM`` (and
``${array.index}`` / ``${array.item}`` quoted in its commands); a failed item is retried by
the dispatcher per the job's retry policy. Progress ("734 / 1000 done, 3 failed") is an
event after every item and a catalog query (store/run_queue.progress).

An array whose only target is a batch scheduler (a Slurm cluster) is ONE array job there:
every task is placed at once (the scheduler places the work, ``slots_per_node`` becomes its
``%S`` limit), the first task to start submits all items with one ``sbatch --array``, and each
task run then follows its array task's output and state."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

from ..core.errors import InvalidInput, LabDeckError
from ..core.events import PlanProgress
from ..core.job_plan import ArraySpec, Resources
from ..core.models import Job, Node, Run, Step, StepKind
from ..core.option_values import detached_overflow
from ..core.quoting import option_environment, shell_for_script, substitute
from ..core.status import NodeRunStatus, RunStatus
from ..core.targets import resolve_targets
from ..executors.base import LaunchLimits, ScriptFile
from ..executors.registry import factory_of
from .planned_run import PlannedRun, Task, TaskOutcome
from .tasks import substitute_array

MAX_ITEMS = 100_000


def array_items(spec: ArraySpec) -> list[str]:
    """The items, read now (a file is read when the run starts)."""
    if spec.count is not None:
        items = [str(i) for i in range(spec.count)]
    elif spec.items is not None:
        items = list(spec.items)
    else:
        path = Path(spec.items_file or "")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read the array's items from {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the array's item file {path} is not UTF-8 text") from exc
        items = [line.strip() for line in text.splitlines() if line.strip()]
    if not items:
        raise InvalidInput("the array has no items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"the array has {len(items)} items; at most {MAX_ITEMS} per run")
    return items


class ArrayRun(PlannedRun):
    uniform_tasks = True

    def __init__(self, engine, run: Run, job: Job, items: list[str], only: list[int] | None = None):
        """``only``: run just these item indexes (a re-run of the failed ones)."""
        super().__init__(engine, run, job)
        spec = job.plan.array
        assert spec is not None
        self.slots_per_node = spec.slots_per_node
        self.items = items
        try:
            nodes = resolve_targets(job.targets, engine.catalog.list_nodes())
        except LabDeckError:
            nodes = []
        # a batch scheduler as the only target: it places the tasks, LabDeck submits them all at once
        self.batch_node = nodes[0] if len(nodes) == 1 and factory_of(nodes[0]).always_detached else None
        self._submitted: tuple[int, str] | LabDeckError | None = None
        request = job.plan.resources
        if self.batch_node is not None:
            self.batch_slots, self.slots_per_node, request = spec.slots_per_node, 0, Resources()
        wanted = set(range(len(items))) if only is None else set(only)
        self.tasks = [Task(str(i), nodes, request, job.steps, data={"index": i, "item": item},
                           note=f"item {item}"[:200]) for i, item in enumerate(items) if i in wanted]
        self._next = 0  # tasks before this one are all placed
        self.done_count = 0
        self.failed_count = 0
        self.cancelled_count = 0  # of failed_count: items the user cancelled
        self.unplaced_reason = ""  # why an item could never be placed (it has no task run to say so)
        self.running_count = 0

    @property
    def tasks_total(self) -> int:
        return len(self.tasks)

    def ready_tasks(self) -> list[Task]:
        with self.lock:
            if self.cancelled or self.finished:
                return []
            while self._next < len(self.tasks) and self.tasks[self._next].placed:
                self._next += 1
            return [t for t in self.tasks[self._next:] if not t.placed]

    def prepare(self, task: Task, node: Node) -> tuple[list[Step], dict[str, str]]:
        index, item = task.data["index"], task.data["item"]
        with self.lock:
            self.running_count += 1
        self._progress()
        env = {"LABDECK_ARRAY_INDEX": str(index), "LABDECK_ITEM": item, "LABDECK_ARRAY_SIZE": str(len(self.items))}
        if self.batch_node is not None and node.name == self.batch_node.name:
            from ..executors.slurm.detached import ARRAY_TASK_ENV
            job_id, folder = self._submit_once(node)
            return task.steps, env | {ARRAY_TASK_ENV: f"{job_id}:{index}:{folder}"}
        return substitute_array(task.steps, index, item, self.engine.pool.get(node).shell), env

    def requeued_task(self, task: Task) -> None:
        with self.lock:
            self.running_count = max(0, self.running_count - 1)
        self._progress()

    # ---- one array job on a batch scheduler ------------------------------------------------

    def _submit_once(self, node: Node) -> tuple[int, str]:
        """The array job holding every task of this run (submitted by the first task to start;
        a refusal is every task's error)."""
        with self.lock:
            if self._submitted is None and self.cancelled:
                raise LabDeckError("cancelled before it started")
            if self._submitted is None:
                try:
                    self._submitted = self._submit(node)
                except LabDeckError as exc:
                    self._submitted = exc
            if isinstance(self._submitted, LabDeckError):
                raise self._submitted
            return self._submitted

    def _submit(self, node: Node) -> tuple[int, str]:
        job, options = self.job, self.run.options
        if any(s.kind not in (StepKind.COMMAND, StepKind.SCRIPT) for s in job.steps):
            raise InvalidInput(f"an array on {node.name} is one Slurm array job: put and get steps cannot be part "
                               "of it (move the files in a workflow step before and after)")
        if too_large := detached_overflow(options):
            raise InvalidInput(too_large)
        ops = self.engine.pool.get(node).detached_ops()
        steps: list[str | ScriptFile] = []
        for step in job.steps:
            if step.kind is StepKind.SCRIPT:
                shell = shell_for_script(step.filename, self.engine.pool.get(node).shell)
                steps.append(ScriptFile(step.filename, substitute(_array_refs(step.script), options, shell),
                                        node.python))
            else:
                steps.append(substitute(_array_refs(step.command), options, self.engine.pool.get(node).shell))
        env = option_environment(options) | {"LABDECK_RUN_ID": str(self.run.id), "LABDECK_JOB": job.name,
                                             "LABDECK_NODE": node.name, "LABDECK_ARRAY_SIZE": str(len(self.items))}
        wants = job.plan.resources
        limits = LaunchLimits(wants.cpus, wants.memory_mb, wants.gpus, job.policy.timeout_s)
        items = {t.data["index"]: t.data["item"] for t in self.tasks}
        tag = f"array-{self.run.id}-{node.name}-{secrets.token_hex(4)}"
        return ops.submit_array(tag, steps, env, items, limits, self.batch_slots)

    def cancelling(self) -> Callable[[], None] | None:
        """One scancel for the whole array (each task's follower then confirms its own). Decided
        under the lock, which a submit in progress holds: an array submitted while the user
        cancelled is cancelled too, and none is submitted after."""
        submitted, node = self._submitted, self.batch_node
        if node is None or not isinstance(submitted, tuple):
            return None

        def scancel() -> None:
            try:
                self.engine.pool.get(node).detached_ops().cancel_array(submitted[0])
            except LabDeckError:
                pass
        return scancel

    def task_finished(self, task: Task, outcome: TaskOutcome) -> None:
        with self.lock:
            if task.child_run_id is not None:
                self.running_count = max(0, self.running_count - 1)
            if outcome.status is NodeRunStatus.SUCCEEDED:
                self.done_count += 1
            else:
                self.failed_count += 1
                self.cancelled_count += outcome.status is NodeRunStatus.CANCELLED
                if task.child_run_id is None and outcome.message and not self.unplaced_reason:
                    self.unplaced_reason = outcome.message
            finished = self.done_count + self.failed_count
            if self.cancelled:
                complete = self.live_tasks() == 0
            else:
                complete = finished == len(self.tasks)
        self._progress()
        if complete:
            if self.cancelled:
                self.finish(RunStatus.CANCELLED, self.cancelled_note())
            elif self.failed_count and self.failed_count == self.cancelled_count:
                self.finish(RunStatus.CANCELLED, self.describe())  # only items the user cancelled did not succeed
            elif self.failed_count:
                reason = f" ({self.unplaced_reason})" if self.unplaced_reason else ""
                self.finish(RunStatus.FAILED, (self.describe() + reason)[:500])
            else:
                self.finish(RunStatus.SUCCEEDED, self.describe())

    def cancelled_note(self) -> str:
        return f"cancelled; {self.describe()}"

    def describe(self) -> str:
        text = f"{self.done_count} / {len(self.tasks)} done"
        return text + (f", {self.failed_count} failed" if self.failed_count else "")

    def _progress(self) -> None:
        self.engine.bus.publish(PlanProgress(self.run.id, len(self.tasks), self.done_count, self.failed_count,
                                             self.running_count))


_ARRAY_REF = re.compile(r"\$\{array\.(index|item)\}")


def _array_refs(text: str) -> str:
    """``${array.index}`` / ``${array.item}`` as the task's variables: one script serves every
    task of a Slurm array (each task's values arrive in its environment)."""
    return _ARRAY_REF.sub(lambda m: '"$LABDECK_ARRAY_INDEX"' if m.group(1) == "index" else '"$LABDECK_ITEM"', text)
