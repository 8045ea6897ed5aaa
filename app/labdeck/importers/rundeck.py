"""Rundeck job exports (``rd jobs list -F yaml`` or the XML ``<joblist>``), one or many jobs
per file, to LabDeck jobs and schedules with a report per job (rundeck_convert.py). A file
that cannot be read at all raises InventoryError with its line; a job that cannot be
converted is reported and left out, and the caller decides whether to import the rest."""

from __future__ import annotations

from pathlib import Path

import yaml

from .candidates import at, read_text
from .rundeck_convert import JobConversion, Overrides, convert_job
from .rundeck_xml import read_rundeck_xml

__all__ = ["JobConversion", "Overrides", "parse_rundeck"]


def parse_rundeck(path: str | Path, overrides: Overrides | None = None) -> list[JobConversion]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise at(path, None, "no such file")
    text = read_text(path)
    docs = read_rundeck_xml(path, text) if text.lstrip("\ufeff \t\r\n").startswith("<") else _read_yaml(path, text)
    if not docs:
        raise at(path, None, "no jobs in it")
    conversions = []
    seen: dict[str, str] = {}
    for index, doc in enumerate(docs, start=1):
        conversion = convert_job(doc, path, index, overrides or Overrides())
        if conversion.job is not None and conversion.name in seen:
            conversion.job = None
            conversion.not_converted.append(f"not imported: a job named '{conversion.name}' comes earlier in the file "
                                            f"({seen[conversion.name]}); LabDeck job names are unique: rename one")
        elif conversion.job is not None:
            seen[conversion.name] = conversion.source
        conversions.append(conversion)
    return conversions


def _read_yaml(path: Path, text: str) -> list[dict]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = (getattr(exc, "problem", None) or str(exc)).replace("'\\t'", "a tab (YAML indents with spaces)")
        raise at(path, mark.line + 1 if mark else None, f"not valid YAML: {reason}") from None
    if data is None:
        return []
    if isinstance(data, dict):  # a single job, not in a list
        data, nodes = [data], [root]
    elif isinstance(data, list):
        nodes = list(root.value)
    else:
        raise at(path, root.start_mark.line + 1, "a Rundeck job export is a list of jobs ('- name: ...')")
    docs = []
    for item, node in zip(data, nodes):
        if not isinstance(item, dict):
            raise at(path, node.start_mark.line + 1, "each job is a mapping (name:, sequence:, ...)")
        docs.append({**item, "_line": node.start_mark.line + 1})
    return docs
