"""Job references (a step ``job: OTHER``): which jobs a job calls, and the checks a set of
jobs must pass — every referenced job exists and no chain of references comes back to where
it started. Pure: the caller passes the jobs by name."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import InvalidInput
from .models import Job, StepKind

_OPTION_REF = re.compile(r"\$\{option\.([A-Za-z0-9_.-]+)\}")


def referenced(job: Job) -> list[str]:
    return [s.job for s in job.steps if s.kind is StepKind.JOB]


def check_references(job: Job, jobs: Mapping[str, Job]) -> None:
    """``jobs``: every job by name, ``job`` (as it will be saved) included or not. Unknown
    jobs and loops are refused with one line naming the chain."""
    every = {**jobs, job.name: job}
    for step in job.steps:
        if step.kind is not StepKind.JOB:
            continue
        if step.job not in every:
            known = ", ".join(sorted(every)) or "none"
            raise InvalidInput(f"job '{job.name}' runs job '{step.job}', which does not exist (known jobs: {known})")
        unknown = sorted(set(step.options) - {o.name for o in every[step.job].options})
        if unknown:
            names = ", ".join(o.name for o in every[step.job].options) or "none"
            raise InvalidInput(f"job '{job.name}' gives job '{step.job}' the option {', '.join(unknown)}, which it "
                               f"does not have (its options: {names})")
    loop = find_loop(job.name, every)
    if loop:
        raise InvalidInput(f"job references loop: {' -> '.join(loop)}; a job cannot end up running itself")


def find_loop(start: str, jobs: Mapping[str, Job]) -> list[str] | None:
    """The first chain start -> ... -> start, if any."""
    path: list[str] = [start]

    def visit(name: str, seen: frozenset) -> list[str] | None:
        for child in referenced(jobs[name]) if name in jobs else []:
            if child == start:
                return path + [child]
            if child in seen:
                continue
            path.append(child)
            found = visit(child, seen | {child})
            if found:
                return found
            path.pop()
        return None
    return visit(start, frozenset({start}))


def child_options(values: Mapping[str, str], options: Mapping[str, str], where: str) -> dict[str, str]:
    """A job step's option values with the calling run's ``${option.X}`` put in (as text:
    the called job quotes them for its own shells)."""
    def put(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise InvalidInput(f"{where}: ${{option.{name}}} is not an option of the calling job "
                               f"(its options: {', '.join(sorted(values)) or 'none'})")
        return values[name]
    return {key: _OPTION_REF.sub(put, str(value)) for key, value in options.items()}
