"""The job file format, defined once: every key a job YAML (or JSON) document may have, its type
and its range, as pydantic models. ``job import`` and ``job add`` both go through
``check_job_doc``; unknown keys are refused with a "did you mean" hint, and the first problem
becomes one line naming the field path (``job 'gen': policy.timeout_s: must be a number >= 0,
got -5``).

To add a key to the format: add a field to the model it belongs to here (with its type, range
and default ``None`` when it is optional), then read it where the document becomes a Job
(jobfile.py for top-level keys, steps, options and policy; plan_codec.py for the plan keys) and
write it back in job_to_doc / plan_to_yaml: ``job export`` prints that, and check_job (which the
catalog runs on every job it saves) checks it against this schema.
Checks that relate several fields (exactly one of command/script, a workflow's dependencies)
stay in jobfile.py, plan_codec.py and core/job_plan.py, on values this schema has already typed.
schema_errors.py turns pydantic's errors into the one line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..core.errors import InvalidInput
from ..core.job_plan import MAX_PRIORITY
from ..core.models import LAUNCH_MODES, NOTIFY_KINDS, check_project_name
from ..core.quoting import check_option_name, check_option_value
from ..core.schedules import MAX_DURATION_S as MAX_SECONDS  # ten years, as for durations typed as flags
from .schema_errors import one_line, shown

MAX_ARRAY_TASKS = 100_000       # array: N, or the items of over: one task row each in the catalog
MAX_RETRIES = 1000
MAX_PARALLEL = 100_000
MAX_NAME = 200                  # job, step and option names


def _scalar_text(value: Any) -> Any:
    """YAML reads ``default: 3`` or ``command: 2024`` as numbers; text fields take any scalar."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: write the command or script it runs")
    return value


def _web_address(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\S*", value):
        raise ValueError(f"must be an http:// or https:// address, got {shown(value)}")
    return value


EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # a sanity check, not RFC 5322


def _email_address(value: str) -> str:
    if not EMAIL_ADDRESS.fullmatch(value):
        raise ValueError(f"must be an email address (name@example.org), got {shown(value)}")
    return value


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_scalar_text)]
Code = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_not_blank)]  # a command or a script body
Name = Annotated[str, BeforeValidator(_scalar_text), Field(min_length=1, max_length=MAX_NAME)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]
Placement = Literal["each", "any"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StepDoc(_Doc):
    """One step: a command (a plain string in the file is a command), a script body, a
    file transfer (put/get with ``to``), or another job to run (``job`` with ``options`` and
    ``targets``: its run is a child of this one)."""
    name: Text | None = None
    command: Code | None = None
    script: Code | None = None
    filename: Text | None = None
    put: Text | None = None
    get: Text | None = None
    to: Text | None = None
    job: Name | None = None
    options: dict[str, Text] | None = None
    targets: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _command_shorthand(cls, value: Any) -> Any:
        return {"command": value} if isinstance(value, str) else value


class OptionDoc(_Doc):
    name: Name
    default: Text | None = None
    description: Text | None = None
    required: Flag | None = None
    choices: Annotated[list[Text], Field(min_length=1)] | None = None  # the only values a run may give

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
    background: Literal["kill", "keep"] | None = None


class ResourcesDoc(_Doc):
    cpus: Annotated[float, Field(strict=True, ge=0, le=100_000, allow_inf_nan=False)] | None = None
    memory_mb: Annotated[int, Field(strict=True, ge=0, le=1 << 40)] | None = None
    gpus: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None


class FlowStepDoc(_Doc):
    """A named step of a workflow (or the on_failure handler, whose name may be left out)."""
    name: Name | None = None
    command: Code | None = None
    script: Code | None = None
    filename: Text | None = None
    steps: Annotated[list[StepDoc], Field(min_length=1)] | None = None
    depends_on: Annotated[list[Text], BeforeValidator(_one_or_list)] | None = None
    when: Text | None = None
    targets: Text | None = None
    placement: Placement | None = None
    artifacts: list[Text] | None = None
    inputs: list[Text] | None = None


class JobDoc(_Doc):
    """A whole job file. The plan keys (resources ... on_failure) are read by plan_codec.py."""
    name: Name
    project: Text | None = None         # the project the job belongs to (default: "default")
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
    resume: Literal["auto", "manual"] | None = None  # an interrupted workflow or array: resumed by itself, or by hand

    @field_validator("name")
    @classmethod
    def _name_is_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                return check_project_name(value)
            except InvalidInput:
                raise ValueError(f"{shown(value)} is not a valid name: use letters, digits, spaces and "
                                 ". @ / + - _ (up to 80 characters)") from None
        return value


def check_job_doc(doc: Any, source: str = "job file", flag_names: dict[str, str] | None = None) -> dict:
    """The document with its values typed (only the keys it gave, ``null`` as not given), or
    InvalidInput: one line naming the first bad field. ``flag_names`` shows a field path as the flag that set it."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source or 'job'}: expected a mapping with name, targets and steps, got {shown(doc)}")
    try:
        model = JobDoc.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(one_line(exc, JobDoc, doc, source, flag_names or {})) from None
    return model.model_dump(exclude_unset=True, exclude_none=True)
