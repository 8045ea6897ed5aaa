"""The job file format, defined once: every key a job YAML (or JSON) document may have, its type
and its range, as pydantic models. ``job import`` and ``job add`` both go through
``check_job_doc``; unknown keys are refused with a "did you mean" hint, and the first problem
becomes one line naming the field path (``job 'gen': policy.timeout_s: must be a number >= 0,
got -5``).

To add a key to the format: add a field to the model it belongs to here (with its type, range
and default ``None`` when it is optional), then read it where the document becomes a Job
(jobfile.py for top-level keys, steps, options and policy; planfile.py for the plan keys).
Checks that relate several fields (exactly one of command/script, a workflow's dependencies)
stay in jobfile.py, planfile.py and core/plan.py, on values this schema has already typed.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from ..core.errors import InvalidInput
from ..core.models import LAUNCH_MODES, NOTIFY_KINDS
from ..core.quoting import check_option_name, check_option_value
from ..core.schedules import MAX_DURATION_S as MAX_SECONDS  # ten years, as for durations typed as flags

MAX_ARRAY_TASKS = 100_000       # array: N, or the items of over: one task row each in the catalog
MAX_RETRIES = 1000
MAX_PARALLEL = 100_000
MAX_PRIORITY = 1_000_000
MAX_NAME = 200                  # job, step and option names


def _scalar_text(value: Any) -> Any:
    """YAML reads ``default: 3`` or ``command: 2024`` as numbers; text fields take any scalar."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _web_address(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\S*", value):
        raise ValueError(f"must be an http:// or https:// address, got {_shown(value)}")
    return value


def _email_address(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError(f"must be an email address (name@example.org), got {_shown(value)}")
    return value


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_scalar_text)]
Name = Annotated[str, BeforeValidator(_scalar_text), Field(min_length=1, max_length=MAX_NAME)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True, ge=0)]
Flag = Annotated[bool, Field(strict=True)]
Placement = Literal["each", "any"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StepDoc(_Doc):
    """One step: a command (a plain string in the file is a command), a script body, or a
    file transfer (put/get with ``to``)."""
    name: Text | None = None
    command: Text | None = None
    script: Text | None = None
    filename: Text | None = None
    put: Text | None = None
    get: Text | None = None
    to: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _command_shorthand(cls, value: Any) -> Any:
        return {"command": value} if isinstance(value, str) else value


class OptionDoc(_Doc):
    name: Name
    default: Text | None = None
    description: Text | None = None
    required: Flag | None = None

    @field_validator("name")
    @classmethod
    def _usable_as_a_variable(cls, value: str) -> str:
        try:
            return check_option_name(value)
        except InvalidInput as exc:
            raise ValueError(f"'{value}' is not valid: {str(exc).split(': ', 1)[-1]}") from None

    @field_validator("default")
    @classmethod
    def _fits_a_command_line(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_option_value("", value)
            except InvalidInput as exc:  # the same limit as a value given when the run starts
                raise ValueError(str(exc).removeprefix("option '' ")) from None
        return value


class PolicyDoc(_Doc):
    """The run rules; the fields and defaults of core.models.JobPolicy."""
    timeout_s: Seconds | None = None
    retries: Annotated[int, Field(strict=True, ge=0, le=MAX_RETRIES)] | None = None
    retry_delay_s: Seconds | None = None
    max_parallel: Annotated[int, Field(strict=True, ge=0, le=MAX_PARALLEL)] | None = None
    retry_on: Literal["same", "other"] | None = None
    unreachable: Literal["fail", "wait", "move"] | None = None
    unreachable_wait_s: Seconds | None = None
    overlap: Literal["skip", "queue", "parallel"] | None = None
    max_runtime_s: PositiveSeconds | None = None
    max_restarts: Annotated[int, Field(strict=True, ge=0, le=MAX_RETRIES)] | None = None
    expected_duration_s: PositiveSeconds | None = None
    notify_on: list[Literal[NOTIFY_KINDS]] | None = None  # type: ignore[valid-type]
    notify_webhooks: list[Annotated[Text, AfterValidator(_web_address)]] | None = None
    notify_emails: list[Annotated[Text, AfterValidator(_email_address)]] | None = None
    launch: Literal[LAUNCH_MODES] | None = None  # type: ignore[valid-type]


class ResourcesDoc(_Doc):
    cpus: Annotated[float, Field(strict=True, ge=0, le=100_000, allow_inf_nan=False)] | None = None
    memory_mb: Annotated[int, Field(strict=True, ge=0, le=1 << 40)] | None = None
    gpus: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None


class FlowStepDoc(_Doc):
    """A named step of a workflow (or the on_failure handler, whose name may be left out)."""
    name: Name | None = None
    command: Text | None = None
    script: Text | None = None
    filename: Text | None = None
    steps: Annotated[list[StepDoc], Field(min_length=1)] | None = None
    depends_on: Annotated[list[Text], BeforeValidator(_one_or_list)] | None = None
    when: Text | None = None
    targets: Text | None = None
    placement: Placement | None = None
    artifacts: list[Text] | None = None
    inputs: list[Text] | None = None


class JobDoc(_Doc):
    """A whole job file. The plan keys (resources ... on_failure) are read by planfile.py."""
    name: Name
    description: Text | None = None
    targets: Text | None = None
    steps: list[StepDoc] | None = None
    options: list[OptionDoc] | None = None
    policy: PolicyDoc | None = None
    resources: ResourcesDoc | None = None
    priority: Annotated[int, Field(strict=True, ge=-MAX_PRIORITY, le=MAX_PRIORITY)] | None = None
    placement: Placement | None = None
    array: Annotated[int, Field(strict=True, ge=1, le=MAX_ARRAY_TASKS)] | None = None
    over: Annotated[list[Text], Field(min_length=1, max_length=MAX_ARRAY_TASKS)] | None = None
    over_file: Text | None = None
    slots_per_node: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    workflow: Annotated[list[FlowStepDoc], Field(min_length=1)] | None = None
    on_failure: FlowStepDoc | None = None

    @field_validator("name")
    @classmethod
    def _name_is_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


def check_job_doc(doc: Any, source: str = "job file", flag_names: dict[str, str] | None = None) -> dict:
    """The document with its values typed (only the keys it gave, ``null`` as not given), or InvalidInput: one line
    naming the first bad field. ``flag_names`` shows a field path as the flag that set it."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: expected a mapping with name, targets and steps, got {_shown(doc)}")
    try:
        model = JobDoc.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(_one_line(exc, doc, source, flag_names or {})) from None
    return model.model_dump(exclude_unset=True, exclude_none=True)


def _one_line(exc: ValidationError, doc: dict, source: str, flag_names: dict[str, str]) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    name = doc.get("name")
    job = f"job '{str(name).strip()}'" if isinstance(name, (str, int)) and str(name).strip() else ""
    prefix = ": ".join(p for p in (source, job) if p) or "job"
    loc = tuple(p for p in first["loc"] if not _is_union_tag(p))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        return f"{prefix}: {_unknown_key(loc, first['input'])}{more}"
    path = _path(loc)
    shown = flag_names.get(path) or flag_names.get(re.sub(r"\[\d+\]", "", path), path)
    if first["type"] == "missing":
        return f"{prefix}: '{shown}' is required{more}"
    return f"{prefix}: {shown}: {_problem(first, loc)}{more}"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith(("function-", "list[", "lax-", "strict-"))


def _path(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _unknown_key(loc: tuple, value: Any) -> str:
    key, parent = loc[-1], loc[:-1]
    allowed = sorted(_model_at(parent).model_fields)
    guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{guess[0]}'?" if guess else f"allowed: {', '.join(allowed)}"
    where = f"{_path(parent)}: " if parent else ""
    return f"{where}unknown key '{key}' ({hint})"


def _model_at(loc: tuple) -> type[BaseModel]:
    """The model that describes the mapping at ``loc`` (list indexes skipped)."""
    model: type[BaseModel] = JobDoc
    for part in loc:
        if isinstance(part, str) and part in model.model_fields:
            model = _inner_model(model.model_fields[part].annotation) or model
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found
    return None


def _wants_whole_number(loc: tuple) -> bool:
    field = _model_at(loc[:-1]).model_fields.get(loc[-1]) if loc and isinstance(loc[-1], str) else None
    return field is not None and int in _leaf_types(field.annotation)


def _leaf_types(annotation: Any) -> set:
    args = get_args(annotation)
    return {annotation} if not args else set().union(*(_leaf_types(a) for a in args))


def _problem(error: dict, loc: tuple) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f", got {_shown(value)}"
    number = "a whole number" if _wants_whole_number(loc) else "a number"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number{got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number{got}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {number} {sign} {bound:g}{got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{got}"
    if kind == "string_type":
        return f"must be text{got}"
    if kind == "list_type":
        return f"must be a list (e.g. [a, b]){got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping (key: value){got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(chr(39), '')}{got}"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')} items"
    if kind == "too_long":
        return f"has too many items (at most {ctx.get('max_length')})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    message = str(error.get("msg", "is not valid"))
    if kind == "value_error":  # our own validators: the message says it all
        return message.removeprefix("Value error, ")
    return message + got


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a flag's -5 is parsed as -5.0; show what was typed
    text = repr(value) if isinstance(value, str) else _yamlish(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _yamlish(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping {" + ", ".join(str(k) for k in list(value)[:4]) + ("..." if len(value) > 4 else "") + "}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return str(value)
