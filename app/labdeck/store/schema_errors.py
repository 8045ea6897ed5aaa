"""pydantic's validation errors as the one line a user reads: the job, the field path
(``steps[2].command``, or the flag that set it), and what the field takes, with a "did you
mean" for an unknown key."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


def one_line(exc: ValidationError, root: type[BaseModel], doc: dict, source: str, flag_names: dict[str, str]) -> str:
    """The first error of ``exc`` (with how many more there are) as one line a user can act on."""
    errors = exc.errors(include_url=False)
    first = min(errors, key=lambda e: _position(doc, e["loc"]))  # the first in the file, as a reader meets it
    name = doc.get("name")
    job = f"job {shown(str(name).strip())}" if isinstance(name, (str, int)) and str(name).strip() else ""
    prefix = "".join(f"{p}: " for p in (source, job) if p)
    loc = tuple(p for p in first["loc"] if not _is_union_tag(p))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        return f"{prefix}{_unknown_key(root, loc)}{more}"
    path = _path(loc)
    field = flag_names.get(path) or flag_names.get(re.sub(r"\[\d+\]", "", path), path)
    if first["type"] == "missing":
        return f"{prefix}'{field}' is required{more}"
    return f"{prefix}{field}: {_problem(first, _wants_whole_number(root, loc))}{more}"


def _position(doc: Any, loc: tuple) -> tuple:
    """Where ``loc`` is in the document: the place of each key or item along the way."""
    place, node = [], doc
    for part in loc:
        if isinstance(node, dict) and part in node:
            place.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            place.append(part)
            node = node[part]
        elif not _is_union_tag(part):
            place.append(len(node) if isinstance(node, (dict, list)) else 0)
            break
    return tuple(place)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith(("function-", "list[", "lax-", "strict-"))


def _path(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _unknown_key(root: type[BaseModel], loc: tuple) -> str:
    key, parent = loc[-1], loc[:-1]
    allowed = sorted(_model_at(root, parent).model_fields)
    guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{guess[0]}'?" if guess else f"allowed: {', '.join(allowed)}"
    where = f"{_path(parent)}: " if parent else ""
    return f"{where}unknown key '{key}' ({hint})"


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model that describes the mapping at ``loc`` (list indexes skipped)."""
    model = root
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


def _wants_whole_number(root: type[BaseModel], loc: tuple) -> bool:
    field = _model_at(root, loc[:-1]).model_fields.get(loc[-1]) if loc and isinstance(loc[-1], str) else None
    return field is not None and int in _leaf_types(field.annotation)


def _leaf_types(annotation: Any) -> set:
    args = get_args(annotation)
    return {annotation} if not args else set().union(*(_leaf_types(a) for a in args))


def _problem(error: dict, whole: bool) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f", got {shown(value)}"
    number = "a whole number" if whole else "a number"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number{got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number{got}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {number} {sign} {bound if isinstance(bound, int) else f'{bound:g}'}{got}"
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
    if kind in ("too_long", "string_too_long") and isinstance(value, str):
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "too_long":
        return f"has too many items (at most {ctx.get('max_length')})"
    if kind == "string_too_short":
        return "must not be empty"
    message = str(error.get("msg", "is not valid"))
    if kind == "value_error":  # our own validators: the message says it all
        return message.removeprefix("Value error, ")
    return message + got


def shown(value: Any) -> str:
    """A value as the user wrote it, cut short."""
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
