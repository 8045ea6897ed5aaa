"""How a job is laid out beyond "every step on every target": resource requests, a priority,
a DAG of named steps (a workflow) or one task per item (an array). Plain data and its
validation; no I/O. A job whose plan is empty runs the classic way (every target at once)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InvalidInput

if TYPE_CHECKING:
    from .models import Step

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
PLACEMENTS = ("each", "any")
RESUME_MODES = ("auto", "manual")
MAX_PRIORITY = 1_000_000


@dataclass
class Resources:
    cpus: float = 0
    memory_mb: int = 0
    gpus: int = 0

    def is_empty(self) -> bool:
        return not (self.cpus or self.memory_mb or self.gpus)

    def describe(self) -> str:
        parts = []
        if self.cpus:
            parts.append(f"{self.cpus:g} CPU{'s' if self.cpus != 1 else ''}")
        if self.memory_mb:
            parts.append(f"{self.memory_mb} MB memory")
        if self.gpus:
            parts.append(f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}")
        return ", ".join(parts) or "nothing"


@dataclass
class ArraySpec:
    """One task per item: ``count`` items numbered 0..count-1, or the ``items`` given, or the
    lines of ``items_file`` (a file on this computer, read when the run starts)."""
    count: int | None = None
    items: list[str] | None = None
    items_file: str | None = None
    slots_per_node: int = 1


@dataclass
class FlowStep:
    """A named step of a workflow: its commands run on its targets (``each`` node, or ``any``
    one that has room) once the steps it depends on are finished and its ``when`` holds."""
    name: str
    steps: list[Step]
    depends_on: list[str] = field(default_factory=list)
    when: str = ""
    targets: str | None = None        # None: the job's targets
    placement: str = "each"
    artifacts: list[str] = field(default_factory=list)  # files it leaves on its node(s) for later steps
    inputs: list[str] = field(default_factory=list)     # steps whose artifacts it receives


@dataclass
class Plan:
    resources: Resources = field(default_factory=Resources)
    priority: int = 0
    placement: str = "each"           # a job without workflow or array: every target, or any one
    workflow: list[FlowStep] = field(default_factory=list)
    on_failure: FlowStep | None = None
    array: ArraySpec | None = None
    resume: str = "auto"              # an interrupted workflow or array: resumed by the next engine, or by hand

    def is_classic(self) -> bool:
        """Nothing here: the job runs the classic way, straight away on every target."""
        return (self.resources.is_empty() and not self.workflow and self.array is None
                and self.placement == "each" and self.priority == 0)

    def validate(self, job_name: str) -> None:
        if self.placement not in PLACEMENTS:
            raise InvalidInput(f"job '{job_name}': placement '{self.placement}': allowed {', '.join(PLACEMENTS)}")
        if self.resume not in RESUME_MODES:
            raise InvalidInput(f"job '{job_name}': resume '{self.resume}': allowed {', '.join(RESUME_MODES)}")
        if self.workflow and self.array is not None:
            raise InvalidInput(f"job '{job_name}': a job is either a workflow or an array, not both")
        if self.array is not None:
            _validate_array(job_name, self.array)
        if self.workflow:
            validate_workflow(job_name, self.workflow, self.on_failure)
        for value, what in ((self.resources.cpus, "cpus"), (self.resources.memory_mb, "memory_mb"),
                            (self.resources.gpus, "gpus")):
            if value < 0:
                raise InvalidInput(f"job '{job_name}': resources '{what}' cannot be negative")


def _validate_array(job_name: str, spec: ArraySpec) -> None:
    given = [x is not None for x in (spec.count, spec.items, spec.items_file)]
    if sum(given) != 1:
        raise InvalidInput(f"job '{job_name}': an array needs exactly one of a count (array: N), "
                           "a list (over: [...]) or a file (over_file: PATH)")
    if spec.count is not None and spec.count < 1:
        raise InvalidInput(f"job '{job_name}': 'array' must be at least 1")
    if spec.slots_per_node < 1:
        raise InvalidInput(f"job '{job_name}': 'slots_per_node' must be at least 1")


def validate_workflow(job_name: str, steps: list[FlowStep], on_failure: FlowStep | None) -> None:
    """Unique valid names, known dependencies, no cycles, references only to earlier steps."""
    from .conditions import parse_condition, step_references

    names: dict[str, FlowStep] = {}
    for step in steps + ([on_failure] if on_failure else []):
        if not STEP_NAME.match(step.name):
            raise InvalidInput(f"job '{job_name}': step name '{step.name}' must be letters, digits, '_' or '-'")
        if step.name in names:
            raise InvalidInput(f"job '{job_name}': two steps are named '{step.name}'")
        if step.placement not in PLACEMENTS:
            raise InvalidInput(f"job '{job_name}': step '{step.name}' placement '{step.placement}': "
                               f"allowed {', '.join(PLACEMENTS)}")
        names[step.name] = step
    for step in steps:
        for dep in step.depends_on:
            if dep not in names or dep == (on_failure.name if on_failure else None):
                raise InvalidInput(f"job '{job_name}': step '{step.name}' depends on unknown step '{dep}'")
    ancestors = {s.name: _ancestors(s.name, names, job_name) for s in steps}
    for step in steps + ([on_failure] if on_failure else []):
        allowed = ancestors.get(step.name, set(s.name for s in steps))  # the handler sees every step
        if step.when:
            parse_condition(step.when)
        text = " ".join([step.when] + [s.command or s.script for s in step.steps])
        for ref in sorted(step_references(text) | set(step.inputs)):
            if ref not in allowed:
                raise InvalidInput(f"job '{job_name}': step '{step.name}' uses step '{ref}', which is not "
                                   f"one it depends on (add it to depends_on)")


def _ancestors(name: str, steps: dict[str, FlowStep], job_name: str) -> set[str]:
    seen: set[str] = set()
    path: list[str] = []

    def visit(current: str) -> None:
        if current in path:
            cycle = " -> ".join(path[path.index(current):] + [current])
            raise InvalidInput(f"job '{job_name}': the steps depend on each other in a cycle: {cycle}")
        path.append(current)
        for dep in steps[current].depends_on:
            seen.add(dep)
            visit(dep)
        path.pop()

    visit(name)
    return seen


def layers(steps: list[FlowStep]) -> list[list[str]]:
    """Step names by depth (a step sits one layer below its deepest dependency); for drawing."""
    depth: dict[str, int] = {}
    by_name = {s.name: s for s in steps}

    def level(name: str) -> int:
        if name not in depth:
            deps = by_name[name].depends_on
            depth[name] = 1 + max((level(d) for d in deps), default=-1)
        return depth[name]

    result: list[list[str]] = []
    for step in steps:
        d = level(step.name)
        while len(result) <= d:
            result.append([])
        result[d].append(step.name)
    return result
