"""A job's steps as YAML (command, script, put, get, job): read with a clear line per mistake, and
written back. Used by jobfile.py (a job's steps) and plan_codec.py (a workflow step's steps); it
imports neither, so the YAML codec has no cycle: stepfile <- planfile <- jobfile."""

from __future__ import annotations

from ..core.errors import InvalidInput
from ..core.models import Step, StepKind


def parse_steps(raw_steps, source: str, where: str, allow_jobs: bool = True) -> list[Step]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidInput(f"{source}: {where} needs at least one step")
    steps = []
    for i, raw in enumerate(raw_steps, 1):
        kinds = [k for k in ("command", "script", "put", "get", "job") if isinstance(raw, dict) and k in raw]
        if len(kinds) != 1:
            raise InvalidInput(f"{source}: {where}, step {i} must have exactly one of 'command', 'script', "
                               "'put', 'get' or 'job'")
        if kinds[0] != "job" and ("options" in raw or "targets" in raw):
            raise InvalidInput(f"{source}: {where}, step {i}: 'options' and 'targets' belong to a 'job' step")
        if kinds[0] == "job":
            if not allow_jobs:
                raise InvalidInput(f"{source}: {where}, step {i}: a 'job' step belongs in a job's steps, "
                                   "not in a workflow")
            steps.append(Step(kind=StepKind.JOB, job=str(raw["job"]), options=dict(raw.get("options") or {}),
                              targets=str(raw.get("targets") or ""), name=str(raw.get("name", ""))))
            continue
        if kinds[0] in ("put", "get"):
            if not str(raw.get("to") or "").strip():
                raise InvalidInput(f"{source}: {where}, step {i} ({kinds[0]}) needs 'to': the folder to copy into")
            steps.append(Step(kind=StepKind(kinds[0]), source=str(raw[kinds[0]]), destination=str(raw["to"]),
                              name=str(raw.get("name", ""))))
        elif "command" in raw:
            steps.append(Step(kind=StepKind.COMMAND, command=str(raw["command"]), name=str(raw.get("name", ""))))
        else:
            steps.append(Step(kind=StepKind.SCRIPT, script=str(raw["script"]),
                              filename=str(raw.get("filename", "script.sh")), name=str(raw.get("name", ""))))
    return steps


def steps_to_yaml(steps: list[Step]) -> list[dict]:
    result = []
    for step in steps:
        item: dict = {"name": step.name} if step.name else {}
        if step.kind is StepKind.JOB:
            item["job"] = step.job
            if step.options:
                item["options"] = dict(step.options)
            if step.targets:
                item["targets"] = step.targets
        elif step.kind is StepKind.COMMAND:
            item["command"] = step.command
        elif step.kind in (StepKind.PUT, StepKind.GET):
            item[str(step.kind)] = step.source
            item["to"] = step.destination
        else:
            item["script"] = step.script
            item["filename"] = step.filename
        result.append(item)
    return result
