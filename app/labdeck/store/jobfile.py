"""Jobs as YAML documents, for ``job export`` and ``job import``. Secrets never appear here.
A job's plan (workflow, array, resources, priority) is read and written by planfile.py."""

from __future__ import annotations

from dataclasses import asdict, fields

import yaml

from ..core.errors import InvalidInput
from ..core.models import DEFAULT_PROJECT, Job, JobOption, JobPolicy, Step, StepKind, check_project_name
from ..core.quoting import check_option_name
from .planfile import plan_from_yaml, plan_to_yaml


def job_to_yaml(job: Job) -> str:
    doc: dict = {"name": job.name}
    if job.project != DEFAULT_PROJECT:
        doc["project"] = job.project
    if job.description:
        doc["description"] = job.description
    doc["targets"] = job.targets
    if job.steps:
        doc["steps"] = steps_to_yaml(job.steps)
    doc.update(plan_to_yaml(job.plan))
    if job.options:
        doc["options"] = [{k: v for k, v in asdict(o).items() if v not in ("", False, [])} for o in job.options]
    doc["policy"] = {k: v for k, v in asdict(job.policy).items() if v is not None}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _known_keys(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def job_from_yaml(text: str, source: str = "job file", base_dir: str | None = None) -> Job:
    """``base_dir``: where a relative ``over_file`` is found (the job file's folder)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"{source} is not valid YAML{where}: {problem}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: expected a mapping with name, targets and steps")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{source}: 'name' is required")
    raw_steps = doc.get("steps")
    has_workflow = bool(doc.get("workflow"))
    if has_workflow and raw_steps:
        raise InvalidInput(f"{source}: job '{name}' has both 'steps' and 'workflow'; put the steps in the workflow")
    if not has_workflow and (not isinstance(raw_steps, list) or not raw_steps):
        raise InvalidInput(f"{source}: job '{name}' needs at least one step under 'steps'")
    steps = [] if has_workflow else parse_steps(raw_steps, source, f"job '{name}'")
    options = []
    for raw in doc.get("options") or []:
        if not isinstance(raw, dict) or "name" not in raw or set(raw) - _known_keys(JobOption):
            raise InvalidInput(f"{source}: each option needs a 'name' (and may have default, description, required)")
        choices = raw.get("choices") or []
        if not isinstance(choices, list):
            raise InvalidInput(f"{source}: option '{raw['name']}': 'choices' is a list of the values allowed")
        options.append(JobOption(name=check_option_name(str(raw["name"])), default=str(raw.get("default", "")),
                                 description=str(raw.get("description", "")), required=bool(raw.get("required", False)),
                                 choices=[str(c) for c in choices]))
    raw_policy = doc.get("policy") or {}
    unknown = set(raw_policy) - _known_keys(JobPolicy)
    if unknown:
        raise InvalidInput(f"{source}: unknown policy keys {sorted(unknown)} (allowed: {sorted(_known_keys(JobPolicy))})")
    try:
        policy = JobPolicy(**raw_policy)
    except TypeError as exc:
        raise InvalidInput(f"{source}: bad policy: {exc}") from exc
    plan = plan_from_yaml(doc, source, name.strip(), base_dir)
    return Job(name=name.strip(), steps=steps, targets=str(doc.get("targets", "all")), options=options,
               policy=policy, description=str(doc.get("description", "")), plan=plan,
               project=check_project_name(doc.get("project", DEFAULT_PROJECT), source))


def parse_steps(raw_steps, source: str, where: str) -> list[Step]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidInput(f"{source}: {where} needs at least one step")
    steps = []
    for i, raw in enumerate(raw_steps, 1):
        if isinstance(raw, str):
            raw = {"command": raw}
        kinds = [k for k in ("command", "script", "put", "get") if isinstance(raw, dict) and k in raw]
        if len(kinds) != 1:
            raise InvalidInput(f"{source}: {where}, step {i} must have exactly one of 'command', 'script', "
                               "'put' or 'get'")
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
        if step.kind is StepKind.COMMAND:
            item["command"] = step.command
        elif step.kind in (StepKind.PUT, StepKind.GET):
            item[str(step.kind)] = step.source
            item["to"] = step.destination
        else:
            item["script"] = step.script
            item["filename"] = step.filename
        result.append(item)
    return result
