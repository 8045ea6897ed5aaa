"""Rundeck's XML job export (``<joblist><job>...``) read into the same shape as its YAML export,
so one converter serves both. Every job keeps the line it starts on (``_line``) for messages.

Elements keep their line numbers (xml_tree.py); the tree is small (a few jobs).
"""

from __future__ import annotations

from pathlib import Path

from .candidates import at
from .xml_tree import Element, parse_xml


def read_rundeck_xml(path: Path, text: str) -> list[dict]:
    root = parse_xml(path, text)
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


def _job(job: Element) -> dict:
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


def _option(option: Element) -> dict:
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


def _schedule(schedule: Element) -> dict:
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


def _command(command: Element) -> dict:
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


def _notification(kind: Element) -> dict:
    out: dict = {}
    for child in kind.children:
        if child.tag == "email":
            out["email"] = {"recipients": child.attrs.get("recipients", "")}
        elif child.tag == "webhook":
            out["urls"] = child.attrs.get("urls", "")
        elif child.tag == "plugin":
            out.setdefault("plugin", []).append({"type": child.attrs.get("type", "?")})
    return out
