"""A workflow run: named steps in a DAG. A step becomes ready when the steps it depends on
have finished; it then runs if its ``when:`` holds (without one: if they all succeeded),
else it is skipped. Its tasks (one per target node, or one on any node with room) go through
the run queue. After each task the controller reads back the ``name=value`` lines the step
wrote to ``$LABDECK_OUTPUT`` and fetches its artifacts; later steps get them as
``${steps.NAME.outputs.KEY}`` and in ``$LABDECK_INPUTS/NAME/``. When every step is done, an
``on_failure`` step runs if any failed. A job that only requests resources or a priority is
a workflow of one step."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.conditions import REFERENCE, evaluate, resolve_reference
from ..core.errors import InvalidInput, LabDeckError
from ..core.events import PlanProgress, StepChanged
from ..core.job_plan import FlowStep
from ..core.models import Job, Node, Run, Step, StepKind
from ..core.quoting import Shell, quote
from ..core.status import NodeRunStatus, RunStatus
from ..core.targets import resolve_targets
from ..store import paths
from .planned_run import PlannedRun, Task, TaskOutcome
from .tasks import under

FINAL = ("succeeded", "failed", "skipped", "cancelled")


@dataclass
class StepState:
    state: str = "pending"  # pending, waiting, running, succeeded, failed, skipped, cancelled
    exit_code: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, list[Path]] = field(default_factory=dict)  # node -> local copies
    tasks: list[Task] = field(default_factory=list)
    finished: int = 0
    failures: list[str] = field(default_factory=list)


def single_step(job: Job) -> list[FlowStep]:
    return [FlowStep(name="main", steps=job.steps, targets=job.targets, placement=job.plan.placement)]


class WorkflowRun(PlannedRun):
    def __init__(self, engine, run: Run, job: Job):
        super().__init__(engine, run, job)
        self.flow = job.plan.workflow or single_step(job)
        self.handler = job.plan.on_failure
        self.states = {s.name: StepState() for s in self.flow + ([self.handler] if self.handler else [])}
        self._handler_started = False

    @property
    def tasks_total(self) -> int:
        return len(self.flow)

    # ---- readiness ------------------------------------------------------------------------

    def ready_tasks(self) -> list[Task]:
        with self.lock:
            if self.cancelled or self.finished:
                return []
            self._advance()
            return [t for s in self.states.values() if s.state == "waiting" for t in s.tasks if not t.placed]

    def _advance(self) -> None:
        """Skip or open steps whose dependencies are done; run the handler; finish the run."""
        changed = True
        while changed:
            changed = False
            for step in self.flow:
                state = self.states[step.name]
                if state.state != "pending":
                    continue
                deps = [self.states[d] for d in step.depends_on]
                if any(d.state not in FINAL for d in deps):
                    continue
                self._open(step, state)
                changed = True
        if all(self.states[s.name].state in FINAL for s in self.flow):
            failed = [s.name for s in self.flow if self.states[s.name].state == "failed"]
            if failed and self.handler and not self._handler_started and not self.cancelled:
                self._handler_started = True
                self._open(self.handler, self.states[self.handler.name], extra_env={"LABDECK_FAILED_STEPS":
                                                                                    ",".join(failed)})
                return
            if self.handler and self._handler_started and self.states[self.handler.name].state not in FINAL:
                return
            self._complete(failed)

    def _open(self, step: FlowStep, state: StepState, extra_env: dict | None = None) -> None:
        try:
            run_it = self._condition(step)
        except LabDeckError as exc:
            if any(self.states[d].state in ("skipped", "cancelled") for d in step.depends_on):
                self._set(step.name, "skipped", f"a step it needs did not run ({exc})")
            else:
                self._set(step.name, "failed", str(exc))
            return
        if not run_it:
            why = "its condition is false" if step.when else "a step it needs did not succeed"
            self._set(step.name, "skipped", why)
            return
        try:
            nodes = resolve_targets(step.targets or self.job.targets, self.engine.catalog.list_nodes())
        except LabDeckError as exc:
            self._set(step.name, "failed", str(exc))
            return
        resources = self.job.plan.resources
        data = {"step": step.name, "env": extra_env or {}}
        if step.placement == "any":
            state.tasks = [Task(step.name, nodes, resources, step.steps, data=data)]
        else:
            state.tasks = [Task(step.name if len(nodes) == 1 else f"{step.name}@{n.name}", [n], resources,
                                step.steps, data=data) for n in nodes]
        self._set(step.name, "waiting")

    def _condition(self, step: FlowStep) -> bool:
        if step.when:
            return evaluate(step.when, self._lookup)
        return all(self.states[d].state == "succeeded" for d in step.depends_on)

    def _lookup(self, name: str, what: str, key: str | None) -> str:
        state = self.states[name]
        if what == "status":
            return state.state
        if what == "exit_code":
            return "" if state.exit_code is None else str(state.exit_code)
        if key not in state.outputs:
            raise InvalidInput(f"step '{name}' wrote no output '{key}' (it wrote: "
                               f"{', '.join(sorted(state.outputs)) or 'none'})")
        return state.outputs[key]

    # ---- one task -------------------------------------------------------------------------

    def prepare(self, task: Task, node: Node) -> tuple[list[Step], dict[str, str]]:
        name = task.data["step"]
        step = self.handler if self.handler and name == self.handler.name else next(s for s in self.flow
                                                                                   if s.name == name)
        files = self.engine.queue_files
        folder = files.task_folder(node, f"wf-{self.run.id}-{name}-{node.name}")
        files.put_text(node, under(folder, "outputs.env"), "")
        env = {"LABDECK_OUTPUT": under(folder, "outputs.env"), "LABDECK_INPUTS": under(folder, "in"),
               "LABDECK_STEP": name,
               **task.data["env"]}
        for source in step.inputs:
            for from_node, copies in self.states[source].artifacts.items():
                several = len(self.states[source].artifacts) > 1
                for local in copies:
                    where = under(folder, "in", source, *([from_node] if several else []), local.name)
                    files.put(node, local, where)
        with self.lock:
            self._set(name, "running")
        shell = self.engine.pool.get(node).shell
        return [self._fill(s, shell) for s in step.steps], env

    def _fill(self, step: Step, shell: Shell) -> Step:
        def one(match: re.Match[str]) -> str:
            value = resolve_reference(match, self._lookup)
            return quote(value, shell) if shell is not Shell.CMD else value.replace("%", "%%")

        if step.kind is StepKind.COMMAND:
            return replace(step, command=REFERENCE.sub(one, step.command))
        return replace(step, script=REFERENCE.sub(one, step.script))

    def task_finished(self, task: Task, outcome: TaskOutcome) -> None:
        name = task.data["step"]
        step = self.handler if self.handler and name == self.handler.name else next(s for s in self.flow
                                                                                   if s.name == name)
        message = outcome.message
        ok = outcome.status is NodeRunStatus.SUCCEEDED
        outputs: dict[str, str] = {}
        artifacts: list[Path] = []
        if task.node is not None and task.child_run_id is not None and outcome.status in (
                NodeRunStatus.SUCCEEDED, NodeRunStatus.FAILED):
            try:
                outputs, artifacts, missing = self._collect(step, task.node)
                if missing and ok:
                    ok, message = False, f"artifact(s) not found on {task.node.name}: {', '.join(missing)}"
            except LabDeckError as exc:
                ok, message = False, f"reading the step's outputs failed: {exc}"
        with self.lock:
            state = self.states[name]
            state.outputs.update(outputs)
            if artifacts and task.node is not None:  # artifacts come only from a task that ran on a node
                state.artifacts[task.node.name] = artifacts
            if outcome.exit_code is not None and (state.exit_code in (None, 0)):
                state.exit_code = outcome.exit_code
            if not ok:
                state.failures.append(f"{task.node.name if task.node else task.key}: {message or outcome.status}")
            state.finished += 1
            if state.finished >= len(state.tasks):
                if self.cancelled and (state.failures or outcome.status is NodeRunStatus.CANCELLED):
                    final = "cancelled"
                else:
                    final = "failed" if state.failures else "succeeded"
                self._set(name, final, "; ".join(state.failures))
                self._publish_progress()
            if self.cancelled:
                if self.live_tasks() == 0:
                    self.finish(RunStatus.CANCELLED, "cancelled")
                return
            self._advance()

    def _collect(self, step: FlowStep, node: Node) -> tuple[dict[str, str], list[Path], list[str]]:
        from .tasks import parse_outputs

        files = self.engine.queue_files
        folder = files.task_folder(node, f"wf-{self.run.id}-{step.name}-{node.name}")
        outputs = {}
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "outputs.env"
            if files.get(node, under(folder, "outputs.env"), local):
                outputs = parse_outputs(local.read_text(encoding="utf-8", errors="replace"))
        keep = paths.work_dir(self.engine.data_dir) / "artifacts" / str(self.run.id) / step.name / node.name
        copies, missing = [], []
        for remote in step.artifacts:
            path = files.resolve(node, remote)
            local = keep / Path(remote).name
            if files.get(node, path, local):
                copies.append(local)
            else:
                local.unlink(missing_ok=True)
                missing.append(remote)
        return outputs, copies, missing

    # ---- states ---------------------------------------------------------------------------

    def _set(self, name: str, state: str, message: str = "") -> None:
        self.states[name].state = state
        self.engine.bus.publish(StepChanged(self.run.id, name, state, message))

    def _publish_progress(self) -> None:
        counts = [self.states[s.name].state for s in self.flow]
        self.engine.bus.publish(PlanProgress(self.run.id, len(self.flow), counts.count("succeeded"),
                                             counts.count("failed"), counts.count("running")))

    def _complete(self, failed: list[str]) -> None:
        if self.cancelled:
            status, note = RunStatus.CANCELLED, "cancelled"
        elif failed:
            status, note = RunStatus.FAILED, "failed: " + "; ".join(
                f"{n} ({self.states[n].failures[0] if self.states[n].failures else 'failed'})" for n in failed)
        else:
            status, note = RunStatus.SUCCEEDED, ""
        self.finish(status, note[:500])
