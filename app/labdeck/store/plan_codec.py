"""A job's plan (workflow, array, resources, priority, placement) in two shapes: the keys of a
YAML job file (their types and ranges are checked by jobschema.py first), and the JSON the
catalog keeps in the jobs table."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.job_plan import ArraySpec, FlowStep, Plan, Resources
from ..core.models import Step, StepKind
from .stepfile import parse_steps, steps_to_yaml


def plan_from_yaml(doc: dict, source: str, job_name: str, base_dir: str | None = None) -> Plan:
    """``doc``: a job document as jobschema.check_job_doc returns it (typed values)."""
    where = f"{source}: job '{job_name}'"
    plan = Plan(resources=_resources(doc.get("resources"), where),
                priority=_int(doc.get("priority", 0), f"{where}: 'priority'"),
                placement=str(doc.get("placement", "each")), resume=str(doc.get("resume", "auto")))
    array_keys = [k for k in ("array", "over", "over_file") if doc.get(k) is not None]
    if len(array_keys) > 1:
        raise InvalidInput(f"{where}: use one of 'array', 'over' and 'over_file', not {' and '.join(array_keys)}")
    if array_keys:
        spec = ArraySpec(slots_per_node=_int(doc.get("slots_per_node", 1), f"{where}: 'slots_per_node'"))
        if doc.get("array") is not None:
            spec.count = _int(doc["array"], f"{where}: 'array'")
        elif doc.get("over") is not None:
            if not isinstance(doc["over"], list) or not doc["over"]:
                raise InvalidInput(f"{where}: 'over' must be a non-empty list of items")
            spec.items = [str(x) for x in doc["over"]]
        else:
            path = Path(str(doc["over_file"])).expanduser()
            if not path.is_absolute() and base_dir:
                path = Path(base_dir) / path
            spec.items_file = str(path)
        plan.array = spec
    elif doc.get("slots_per_node") is not None:
        raise InvalidInput(f"{where}: 'slots_per_node' only applies to an array (array, over or over_file)")
    raw_flow = doc.get("workflow")
    if raw_flow is not None:
        if not isinstance(raw_flow, list) or not raw_flow:
            raise InvalidInput(f"{where}: 'workflow' must be a list of named steps")
        plan.workflow = [_flow_step(raw, f"{where}, workflow step {i}", source) for i, raw in enumerate(raw_flow, 1)]
    if doc.get("on_failure") is not None:
        raw = doc["on_failure"]
        if isinstance(raw, dict):
            raw = {"name": "on_failure"} | raw
        plan.on_failure = _flow_step(raw, f"{where}, on_failure", source)
        if not plan.workflow:
            raise InvalidInput(f"{where}: 'on_failure' needs a 'workflow'")
    plan.validate(job_name)
    return plan


def plan_to_yaml(plan: Plan) -> dict:
    doc: dict = {}
    if not plan.resources.is_empty():
        doc["resources"] = {k: v for k, v in asdict(plan.resources).items() if v}
    if plan.priority:
        doc["priority"] = plan.priority
    if plan.placement != "each":
        doc["placement"] = plan.placement
    if plan.resume != "auto":
        doc["resume"] = plan.resume
    if plan.array is not None:
        a = plan.array
        if a.count is not None:
            doc["array"] = a.count
        elif a.items is not None:
            doc["over"] = list(a.items)
        else:
            doc["over_file"] = a.items_file
        doc["slots_per_node"] = a.slots_per_node

    def flow(step: FlowStep) -> dict:
        item: dict = {"name": step.name, "steps": steps_to_yaml(step.steps)}
        for key in ("depends_on", "when", "targets", "artifacts", "inputs"):
            if getattr(step, key):
                item[key] = getattr(step, key)
        if step.placement != "each":
            item["placement"] = step.placement
        return item

    if plan.workflow:
        doc["workflow"] = [flow(s) for s in plan.workflow]
    if plan.on_failure is not None:
        doc["on_failure"] = flow(plan.on_failure)
    return doc


def plan_to_json(plan: Plan) -> dict:
    return {} if plan.is_classic() else asdict(plan)


def plan_from_json(data: dict | None) -> Plan:
    if not data:
        return Plan()

    def flow(raw: dict) -> FlowStep:
        steps = [Step(**{**s, "kind": StepKind(s["kind"])}) for s in raw["steps"]]
        return FlowStep(**{**raw, "steps": steps})

    return Plan(resources=Resources(**data.get("resources", {})), priority=data.get("priority", 0),
                placement=data.get("placement", "each"), resume=data.get("resume", "auto"),
                workflow=[flow(s) for s in data.get("workflow") or []],
                on_failure=flow(data["on_failure"]) if data.get("on_failure") else None,
                array=ArraySpec(**data["array"]) if data.get("array") else None)


def _flow_step(raw, where: str, source: str) -> FlowStep:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise InvalidInput(f"{where} needs a 'name'")
    given = [k for k in ("command", "script", "steps") if k in raw]
    if len(given) != 1:
        raise InvalidInput(f"{where} ('{raw['name']}') needs exactly one of 'command', 'script' or 'steps'")
    if "steps" in raw:
        steps = parse_steps(raw["steps"], source, f"step '{raw['name']}'", allow_jobs=False)
    else:
        steps = parse_steps([{k: raw[k] for k in ("command", "script", "filename") if k in raw}], source,
                            f"step '{raw['name']}'")
    depends = raw.get("depends_on") or []
    return FlowStep(name=str(raw["name"]), steps=steps, depends_on=[str(d) for d in depends],
                    when=str(raw.get("when") or ""), targets=str(raw["targets"]) if raw.get("targets") else None,
                    placement=str(raw.get("placement", "each")), artifacts=[str(a) for a in raw.get("artifacts") or []],
                    inputs=[str(i) for i in raw.get("inputs") or []])


def _resources(raw, where: str) -> Resources:
    if raw is None:
        return Resources()
    try:
        return Resources(cpus=float(raw.get("cpus", 0)), memory_mb=int(raw.get("memory_mb", 0)),
                         gpus=int(raw.get("gpus", 0)))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: 'resources' values must be numbers") from exc


def _int(value, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be a whole number, not '{value}'") from exc
