"""Rundeck's XML job export (``<joblist><job>...``) read into the same shape as its YAML export,
so one converter serves both. Every job keeps the line it starts on (``_line``) for messages.

Read with expat directly (no DTDs or external entities are fetched) so elements keep their
line numbers; the tree is small (a few jobs), so plain dicts do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from .candidates import at


@dataclass
class _El:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_El] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> _El | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[_El]:
        return [c for c in self.children if c.tag == tag]

    def value(self, tag: str) -> str | None:
        child = self.find(tag)
        return child.text.strip() if child is not None else None


def _parse(path: Path, text: str) -> _El:
    parser = expat.ParserCreate()
    stack: list[_El] = []
    root: list[_El] = []

    def start(tag, attrs):
        element = _El(tag, dict(attrs), parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(_tag):
        stack.pop()

    def data(chunk):
        if stack:
            stack[-1].text += chunk

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    def refuse_entities(*_args):
        raise at(path, parser.CurrentLineNumber, "entity declarations (<!ENTITY>) are not allowed in a job export")

    parser.EntityDeclHandler = refuse_entities
    try:
        parser.Parse(text.lstrip("\ufeff").encode("utf-8"), True)
    except expat.ExpatError as exc:
        raise at(path, getattr(exc, "lineno", None), f"not valid XML: {expat.ErrorString(exc.code) if exc.code else exc}") \
            from None
    return root[0]


def read_rundeck_xml(path: Path, text: str) -> list[dict]:
    root = _parse(path, text)
    if root.tag != "joblist":
        raise at(path, root.line, f"<{root.tag}> is not a Rundeck job export (it starts with <joblist>)")
    jobs = []
    for job in root.children:
        if job.tag != "job":
            raise at(path, job.line, f"<{job.tag}> inside <joblist>: only <job> elements belong there")
        jobs.append(_job(job))
    return jobs


_SIMPLE = ("name", "group", "description", "uuid", "id", "loglevel", "multipleExecutions", "timeout",
           "scheduleEnabled", "executionEnabled", "timeZone", "nodeFilterEditable", "nodesSelectedByDefault",
           "defaultTab")


def _job(job: _El) -> dict:
    doc: dict = {"_line": job.line}
    for child in job.children:
        tag = child.tag
        if tag in _SIMPLE:
            doc[tag] = child.text.strip()
        elif tag == "context":
            project = child.value("project")
            if project:
                doc["project"] = project
            options = child.find("options")
            if options is not None:
                doc["options"] = [_option(o) for o in options.all("option")]
        elif tag == "dispatch":
            doc.setdefault("nodefilters", {})["dispatch"] = {c.tag: c.text.strip() for c in child.children}
        elif tag == "nodefilters":
            filters = doc.setdefault("nodefilters", {})
            if child.value("filter") is not None:
                filters["filter"] = child.value("filter")
            for legacy in ("include", "exclude"):
                if child.find(legacy) is not None:
                    filters[legacy] = {c.tag: c.text.strip() for c in child.find(legacy).children}
        elif tag == "schedule":
            doc["schedule"] = _schedule(child)
        elif tag == "retry":
            doc["retry"] = {"retry": child.text.strip(), **({"delay": child.attrs["delay"]} if "delay" in child.attrs else {})}
        elif tag == "sequence":
            doc["sequence"] = {**child.attrs, "commands": [_command(c) for c in child.all("command")]}
        elif tag == "notification":
            doc["notification"] = {kind.tag: _notification(kind) for kind in child.children}
        else:
            doc[tag] = f"<{tag}> at line {child.line}"  # reported as not converted
    return doc


def _option(option: _El) -> dict:
    a = option.attrs
    out: dict = {"name": a.get("name", ""), "_line": option.line}
    if "value" in a:
        out["value"] = a["value"]
    if a.get("required") == "true":
        out["required"] = True
    if "values" in a:
        out["values"] = [v.strip() for v in a["values"].split(a.get("valuesListDelimiter", ","))]
    if a.get("enforcedvalues") == "true":
        out["enforced"] = True
    if a.get("secure") == "true":
        out["secure"] = True
    if option.value("description"):
        out["description"] = option.value("description")
    for key in ("valuesUrl", "regex", "multivalued", "storagePath", "isDate"):
        if key in a:
            out[key] = a[key]
    return out


def _schedule(schedule: _El) -> dict:
    if "crontab" in schedule.attrs:
        return {"crontab": schedule.attrs["crontab"]}
    out: dict = {}
    time = schedule.find("time")
    if time is not None:
        out["time"] = {k: time.attrs.get(k, "0") for k in ("hour", "minute", "seconds")}
    month = schedule.find("month")
    if month is not None:
        out["month"] = month.attrs.get("month", "*")
        if "day" in month.attrs:
            out["dayofmonth"] = {"day": month.attrs["day"]}
    weekday = schedule.find("weekday")
    if weekday is not None:
        out["weekday"] = {"day": weekday.attrs.get("day", "*")}
    year = schedule.find("year")
    if year is not None:
        out["year"] = year.attrs.get("year", "*")
    return out


def _command(command: _El) -> dict:
    out: dict = {"_line": command.line}
    for child in command.children:
        if child.tag == "jobref":
            arg = child.find("arg")
            out["jobref"] = {"name": child.attrs.get("name", ""), "group": child.attrs.get("group", ""),
                             **({"args": arg.attrs.get("line", "")} if arg is not None else {}),
                             **({"nodeStep": child.attrs["nodeStep"]} if "nodeStep" in child.attrs else {})}
        elif child.tag == "errorhandler":
            out["errorhandler"] = _command(child)
            if "keepgoingOnSuccess" in child.attrs:
                out["errorhandler"]["keepgoingOnSuccess"] = child.attrs["keepgoingOnSuccess"] == "true"
        elif child.tag in ("node-step-plugin", "step-plugin"):
            out["type"] = child.attrs.get("type", "?")
            out["nodeStep"] = child.tag == "node-step-plugin"
        elif child.tag == "scriptargs":
            out["args"] = child.text.strip()
        else:
            out[child.tag] = child.text if child.tag == "script" else child.text.strip()
    return out


def _notification(kind: _El) -> dict:
    out: dict = {}
    for child in kind.children:
        if child.tag == "email":
            out["email"] = {"recipients": child.attrs.get("recipients", "")}
        elif child.tag == "webhook":
            out["urls"] = child.attrs.get("urls", "")
        elif child.tag == "plugin":
            out.setdefault("plugin", []).append({"type": child.attrs.get("type", "?")})
    return out
