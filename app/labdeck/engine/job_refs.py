"""Runs of jobs whose steps include job references (``job: OTHER``).

Such a run is a parent that does no node work itself: its steps run in order as child runs.
Consecutive ordinary steps run together as one child run of the same job (on its targets,
with its policy); each ``job:`` step runs the other job as a child run — with its own policy,
on its own targets or the step's, with the step's option values (the parent's
``${option.X}`` put in). Every child records ``called_by_run_id``; the first child that does
not succeed ends the parent as failed (cancelled, if it was cancelled), naming the step.
Cancelling the parent cancels the child that runs. A reference that would come back to a job
already running in this chain fails that step instead of recursing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace

from ..core.errors import LabDeckError
from ..core.events import RunFinished, RunStarted
from ..core.job_refs import child_options
from ..core.models import Job, Run, Step, StepKind, Trigger
from ..core.status import RunStatus

log = logging.getLogger(__name__)


@dataclass
class _Active:
    run: Run
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    child_id: int | None = None


def segments(steps: list[Step]) -> list[tuple[str, list[Step]]]:
    """(label, steps): runs of ordinary steps together, each job step alone; labels count
    steps from 1 ("steps 1-2", "step 3: job train")."""
    out: list[tuple[str, list[Step]]] = []
    pending: list[tuple[int, Step]] = []

    def flush() -> None:
        if pending:
            first, last = pending[0][0], pending[-1][0]
            out.append((f"step {first}" if first == last else f"steps {first}-{last}", [s for _, s in pending]))
            pending.clear()
    for number, step in enumerate(steps, start=1):
        if step.kind is StepKind.JOB:
            flush()
            out.append((f"step {number}: job {step.job}", [step]))
        else:
            pending.append((number, step))
    flush()
    return out


class JobRefRuns:
    def __init__(self, engine):
        self._engine = engine
        self._active: dict[int, _Active] = {}
        self._lock = threading.Lock()

    def start(self, job: Job, values: dict[str, str], trigger: Trigger, targets: str, extra: dict | None) -> Run:
        run, _ = self._engine.catalog.create_run(job.name, job.id, trigger, values, targets, [], lambda *a: "", extra)
        active = _Active(run)
        with self._lock:
            self._active[run.id] = active
        self._engine.bus.publish(RunStarted(run.id, job.name, ()))
        threading.Thread(target=self._drive, args=(active, job, values, trigger, targets),
                         name=f"job-refs-{run.id}", daemon=True).start()
        return run

    def active_ids(self) -> set[int]:
        """The parent runs this process drives (no node runs of their own: never orphans here)."""
        with self._lock:
            return set(self._active)

    def has(self, run_id: int) -> bool:
        with self._lock:
            return run_id in self._active

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        with self._lock:
            active = self._active.get(run_id)
        return True if active is None else active.done.wait(timeout)

    def cancel(self, run_id: int) -> bool:
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        active.cancelled = True
        if active.child_id is not None:
            self._engine.cancel(active.child_id)
        return True

    def close(self) -> None:
        with self._lock:
            running = list(self._active)
        for run_id in running:
            self.cancel(run_id)
        for run_id in running:
            self.wait(run_id, 30)

    # ---- the parent's steps, in order ------------------------------------------------------

    def _drive(self, active: _Active, job: Job, values: dict[str, str], trigger: Trigger, targets: str) -> None:
        catalog = self._engine.catalog
        status, note, children = RunStatus.SUCCEEDED, "", []
        try:
            for label, steps in segments(job.steps):
                if active.cancelled:
                    status, note = RunStatus.CANCELLED, f"cancelled before {label}"
                    break
                try:
                    child = self._start_child(active.run, job, label, steps, values, trigger, targets)
                except LabDeckError as exc:
                    status, note = RunStatus.FAILED, f"{label}: {exc}"
                    break
                active.child_id = child.id
                children.append(f"#{child.id}")
                if active.cancelled:  # cancelled while the child was being started
                    self._engine.cancel(child.id)
                self._engine.wait(child.id)
                finished = catalog.get_run(child.id)
                active.child_id = None
                if finished.status is not RunStatus.SUCCEEDED:
                    status = RunStatus.CANCELLED if active.cancelled else RunStatus.FAILED
                    note = f"{label} (run #{child.id}) {finished.status}"
                    break
            if status is RunStatus.SUCCEEDED:
                note = f"ran as runs {', '.join(children)}"
        except Exception as exc:  # a bug: the parent must still end, saying why
            log.exception("job references of run %s", active.run.id)
            status, note = RunStatus.FAILED, f"unexpected {exc.__class__.__name__}: {exc}"
        finally:
            catalog.finish_run(active.run.id, status, note)
            with self._lock:
                self._active.pop(active.run.id, None)
            active.done.set()
            self._engine.bus.publish(RunFinished(active.run.id, job.name, status))

    def _start_child(self, parent: Run, job: Job, label: str, steps: list[Step], values: dict[str, str],
                     trigger: Trigger, targets: str) -> Run:
        extra = {"called_by_run_id": parent.id, "note": f"{label} of run #{parent.id} ({job.name})"}
        step = steps[0]
        if step.kind is not StepKind.JOB:  # ordinary steps: this job, on its targets, with its policy
            return self._engine.start(replace(job, steps=steps), values, trigger, targets, extra)
        chain = self._chain(parent)
        if step.job in chain:
            raise LabDeckError(f"job '{step.job}' is already running in this chain ({' -> '.join(chain + [step.job])})")
        other = self._engine.catalog.get_job(step.job)
        options = child_options(values, step.options, label)
        return self._engine.start(other, options, trigger, step.targets or None, extra)

    def _chain(self, parent: Run) -> list[str]:
        """The jobs from the outermost caller down to ``parent``'s."""
        names, run = [], parent
        while run is not None:
            names.append(run.job_name)
            run = self._engine.catalog.get_run(run.called_by_run_id) if run.called_by_run_id else None
        return names[::-1]
