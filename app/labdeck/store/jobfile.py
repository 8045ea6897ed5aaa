"""Jobs as YAML documents, for ``job export`` and ``job import``. Secrets never appear here.
Which keys a job file has, and their types and ranges, is defined in jobschema.py; a job's plan
(workflow, array, resources, priority) is read and written by plan_codec.py."""

from __future__ import annotations

from dataclasses import asdict

import yaml

from ..core.errors import InvalidInput
from ..core.models import DEFAULT_PROJECT, Job, JobOption, JobPolicy
from ..core.quoting import check_option_name
from .jobschema import check_job_doc
from .plan_codec import plan_from_yaml, plan_to_yaml
from .safe_yaml import load_yaml
from .stepfile import parse_steps, steps_to_yaml


def job_to_yaml(job: Job) -> str:
    return yaml.safe_dump(job_to_doc(job), sort_keys=False, allow_unicode=True)


def check_job(job: Job, source: str = "", flag_names: dict[str, str] | None = None) -> None:
    """The schema's check of a job built in code (``job add``, ``policy``, the desktop app):
    the same rules as a job file. ``flag_names``: field path -> the flag that set it."""
    check_job_doc(job_to_doc(job), source, flag_names)


def job_to_doc(job: Job) -> dict:
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
    return doc


def job_from_yaml(text: str, source: str = "job file", base_dir: str | None = None) -> Job:
    """``base_dir``: where a relative ``over_file`` is found (the job file's folder)."""
    return job_from_doc(load_yaml(text, source), source, base_dir)


def job_from_doc(raw, source: str = "job file", base_dir: str | None = None) -> Job:
    """A Job from a parsed document; every key and value is checked by the schema first."""
    doc = check_job_doc(raw, source)
    name = doc["name"]
    raw_steps = doc.get("steps")
    has_workflow = bool(doc.get("workflow"))
    if has_workflow and raw_steps:
        raise InvalidInput(f"{source}: job '{name}' has both 'steps' and 'workflow'; put the steps in the workflow")
    if not has_workflow and not raw_steps:
        raise InvalidInput(f"{source}: job '{name}' needs at least one step under 'steps'")
    steps = [] if has_workflow else parse_steps(raw_steps, source, f"job '{name}'")
    options = [JobOption(name=check_option_name(o["name"]), default=o.get("default", ""),
                         description=o.get("description", ""), required=o.get("required", False),
                         choices=o.get("choices", []))
               for o in doc.get("options", [])]
    policy = JobPolicy(**doc.get("policy", {}))
    plan = plan_from_yaml(doc, source, name, base_dir)
    return Job(name=name, steps=steps, targets=doc.get("targets", "all"), options=options,
               policy=policy, description=doc.get("description", ""), plan=plan,
               project=doc.get("project", DEFAULT_PROJECT))
