"""One Rundeck job definition (as its YAML export shapes it) to a LabDeck job and schedules,
with a list of what was converted and what was not — nothing is dropped without saying so.

What maps: name; group (the project, unless one is given); description; options (default,
required, enforced allowed values); ``exec`` and inline ``script`` steps in order
(``RD_OPTION_*`` and ``@option.X@`` become LabDeck's option variables); job references; an
``exec`` error handler folded into a command step or a sh/bash script; the node filter's names
and tags, its clauses all to match as in Rundeck (a target spec); thread count
(max parallel); the Quartz schedule when exact (quartz.py); timeout (the whole run's
limit); retry and its delay; e-mail and webhook notifications on failure and success;
multiple executions (overlap). What does not (script files and URLs, plugin steps, other
node-filter keys, nodes ticked at run time, onstart notifications, ...) is listed per job.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput, LabDeckError
from ..core.models import DEFAULT_PROJECT, Job, JobOption, Step, StepKind, check_project_name
from ..core.quoting import check_option_name, env_name
from ..core.schedules import Schedule
from .rundeck_policy import convert_policy, convert_schedules
from .rundeck_policy import is_true as _true

IGNORED = {"_line", "uuid", "id", "loglevel", "defaultTab", "nodeFilterEditable",
           "project", "scheduleEnabled", "executionEnabled", "timeZone", "logging", "orchestrator"}
HANDLED = {"name", "group", "description", "options", "sequence", "nodefilters", "schedule", "timeout", "retry",
           "notification", "multipleExecutions", "plugins", "notifyAvgDurationThreshold",
           "nodesSelectedByDefault"}


@dataclass
class JobConversion:
    source: str                                   # file:line where the job starts
    name: str
    job: Job | None = None                        # None: the job could not be imported (see not_converted)
    schedules: list[Schedule] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    not_converted: list[str] = field(default_factory=list)
    posix_only: list[str] = field(default_factory=list)  # steps made POSIX-shell-only (a folded error handler)


@dataclass
class Overrides:
    project: str | None = None   # every job goes to this project (default: its Rundeck group, else "default")
    targets: str | None = None   # every job runs here (default: converted from its node filter)
    tz: str = "UTC"              # time zone of schedules whose job names none


def convert_job(doc: dict, path: Path, index: int, overrides: Overrides) -> JobConversion:
    line = doc.get("_line")
    source = f"{path}:{line}" if line else f"{path} (job {index})"
    name = str(doc.get("name") or "").strip()
    result = JobConversion(source, name or f"(job {index})")
    if not name:
        result.not_converted.append("the job has no name: not imported")
        return result
    try:
        _convert(doc, result, overrides)
    except LabDeckError as exc:
        result.job = None
        result.not_converted.append(f"not imported: {exc}")
    return result


def _convert(doc: dict, result: JobConversion, overrides: Overrides) -> None:
    out_of = result.not_converted
    for key in sorted(set(doc) - IGNORED - HANDLED):
        out_of.append(f"'{key}' is not something LabDeck has: not converted")
    group = str(doc.get("group") or "").strip()
    project = overrides.project or group or DEFAULT_PROJECT
    project = check_project_name(project)
    if group and overrides.project:
        out_of.append(f"group '{group}': the job goes to project '{project}' as asked")
    elif group:
        result.converted.append(f"group '{group}' -> project '{project}'")
    options = _options(doc.get("options"), result)
    steps = _steps(doc.get("sequence"), result, options)
    targets = _targets(doc.get("nodefilters") or {}, result, overrides)
    _node_selection(doc, result)
    policy = convert_policy(doc, result)
    if doc.get("executionEnabled") in (False, "false"):
        out_of.append("execution was disabled in Rundeck: the job is imported and can run")
    result.job = Job(name=result.name, steps=steps, targets=targets, options=options, policy=policy,
                     description=str(doc.get("description") or "").strip(), project=project)
    result.schedules = convert_schedules(doc, result, overrides.tz)


# ---- options ---------------------------------------------------------------------------------

def _options(raw, result: JobConversion) -> list[JobOption]:
    if not raw:
        return []
    if isinstance(raw, dict):  # older exports: a mapping of name -> settings
        raw = [{"name": k, **(v or {})} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise InvalidInput("'options' is neither a list nor a mapping")
    options = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("name"):
            raise InvalidInput("an option without a name")
        name = check_option_name(str(item["name"]))
        option = JobOption(name=name, default="" if item.get("value") is None else str(item["value"]),
                           description=str(item.get("description") or ""), required=_true(item.get("required")))
        values = item.get("values") or []
        if isinstance(values, str):
            values = [v.strip() for v in values.split(item.get("valuesListDelimiter") or ",")]
        if values and _true(item.get("enforced")) and _true(item.get("multivalued")):
            result.not_converted.append(f"option '{name}': several of {', '.join(map(str, values))} at once "
                                        "(a LabDeck option holds one value; any value is accepted)")
        elif values and _true(item.get("enforced")):
            option.choices = [str(v) for v in values]
            result.converted.append(f"option '{name}': only {', '.join(option.choices)} allowed")
            if option.default and option.default not in option.choices:
                result.not_converted.append(f"option '{name}': its default '{option.default}' is not one of its "
                                            "allowed values, so it has no default (a run gives one)")
                option.default = ""
        elif values:
            result.not_converted.append(f"option '{name}': its suggested values ({', '.join(map(str, values))}) "
                                        "were not enforced in Rundeck; any value is accepted")
        if _true(item.get("secure")):
            option.default = ""
            result.not_converted.append(f"option '{name}' is a secure option: LabDeck keeps no secret in a job; "
                                        "give its value when you run the job")
        for key in ("valuesUrl", "regex", "multivalued", "storagePath", "isDate", "dateFormat"):
            if item.get(key) not in (None, "", False, "false"):
                result.not_converted.append(f"option '{name}': '{key}' is not converted")
        options.append(option)
    result.converted.append(f"{len(options)} options")
    return options


# ---- steps -----------------------------------------------------------------------------------

def _steps(sequence, result: JobConversion, options: list[JobOption]) -> list[Step]:
    if not isinstance(sequence, dict) or not isinstance(sequence.get("commands"), list):
        raise InvalidInput("it has no 'sequence' with 'commands'")
    if _true(sequence.get("keepgoing")):
        result.not_converted.append("sequence keepgoing: true (LabDeck stops a node's steps at the first failure)")
    strategy = sequence.get("strategy")
    if strategy not in (None, "node-first") and (strategy not in ("sequential", "step-first")
                                                 or len(sequence["commands"]) > 1):
        result.not_converted.append(f"workflow strategy '{strategy}' (LabDeck runs a node's steps in order, "
                                    "node by node: Rundeck's node-first)")
    steps = []
    for number, command in enumerate(sequence["commands"], start=1):
        step = _step(command, number, result)
        if step is not None:
            steps.append(step)
    if not steps:
        raise InvalidInput("none of its steps could be converted")
    result.converted.append(f"{len(steps)} of {len(sequence['commands'])} steps")
    return steps


def _step(command, number: int, result: JobConversion) -> Step | None:
    where = f"step {number}"
    if not isinstance(command, dict):
        result.not_converted.append(f"{where}: not a step definition")
        return None
    label = str(command.get("description") or "")
    if "exec" in command:
        step = Step(kind=StepKind.COMMAND, command=_rd_variables(str(command["exec"]), "sh", result, where), name=label)
    elif "script" in command:
        extension = str(command.get("fileExtension") or "").lstrip(".") or _extension(str(command["script"]))
        body = _rd_variables(str(command["script"]).replace("\r\n", "\n"), extension, result, where)
        step = Step(kind=StepKind.SCRIPT, script=body, filename=f"step{number}.{extension}", name=label)
        if command.get("args"):
            result.not_converted.append(f"{where}: script arguments '{command['args']}' (a LabDeck script gets its "
                                        "options as variables, not arguments)")
        if command.get("scriptInterpreter"):
            result.not_converted.append(f"{where}: script interpreter '{command['scriptInterpreter']}' (LabDeck picks "
                                        "it from the file extension or the #! line)")
    elif "scriptfile" in command or "scripturl" in command:
        kind = "scriptfile" if "scriptfile" in command else "scripturl"
        result.not_converted.append(f"{where}: {kind} {command[kind]} lives on the Rundeck server: paste the script "
                                    "into a script step")
        return None
    elif "jobref" in command:
        step = _job_reference(command["jobref"] or {}, label, result, where)
        if step is None:
            return None
    elif "type" in command:
        result.not_converted.append(f"{where}: plugin step '{command['type']}' is Rundeck-only")
        return None
    else:
        result.not_converted.append(f"{where}: a step of an unknown kind ({', '.join(sorted(map(str, command)))})")
        return None
    handler = command.get("errorhandler")
    if handler:
        _fold_error_handler(step, handler, result, where)
    return step


def _job_reference(ref: dict, label: str, result: JobConversion, where: str) -> Step | None:
    """A referenced job (Rundeck names it by group and name; LabDeck job names are unique, so
    by name) with its ``args`` (``-opt value ...``) as the step's options."""
    name = str(ref.get("name") or "").strip()
    if not name:
        result.not_converted.append(f"{where}: a job reference without a job name (by uuid only)")
        return None
    try:
        words = shlex.split(str(ref.get("args") or ""))
    except ValueError:
        words = ["?"]
    options: dict[str, str] = {}
    while words:
        key = words.pop(0)
        if not key.startswith("-") or len(key) < 2:
            result.not_converted.append(f"{where}: job reference arguments '{ref.get('args')}' "
                                        "(not -option value pairs)")
            options = {}
            break
        options[key[1:]] = words.pop(0) if words and not words[0].startswith("-") else "true"
    for key, value in list(options.items()):
        if "${job." in value or "${node." in value:
            result.not_converted.append(f"{where}: option '{key}' = '{value}' (a Rundeck context variable)")
            del options[key]
    if _true(ref.get("nodeStep")):
        result.not_converted.append(f"{where}: node step (LabDeck runs the job once, on its own targets)")
    if ref.get("nodefilters"):
        result.not_converted.append(f"{where}: the reference's own node filter (the job runs on its own targets)")
    result.converted.append(f"{where}: job reference to '{name}'" + (f" with {', '.join(options)}" if options else ""))
    return Step(kind=StepKind.JOB, job=name, options=options, name=label)


def _fold_error_handler(step: Step, handler, result: JobConversion, where: str) -> None:
    """A command or sh/bash script handler runs when its step fails, as in Rundeck: the step
    still fails (with its own exit code) unless keepgoingOnSuccess lets it go on when the
    handler succeeds. On a command step it is folded into the command line; on a sh/bash
    script step it becomes an EXIT trap at the top of the script, which runs however the
    script ends (``exit 3``, ``set -e``). A script handler runs from a here-document."""
    code = _handler_code(handler, result, where)
    if code is None:
        return
    recover = _true(handler.get("keepgoingOnSuccess"))
    if step.kind is StepKind.COMMAND:
        tail = code if recover else f'rc=$?; {code}\nexit "$rc"'
        step.command = f"{{ {step.command}\n}} || {{ {tail}\n}}"
        result.converted.append(f"{where}: error handler folded into the command (POSIX shell)")
        result.posix_only.append(where)
        return
    extension = step.filename.rsplit(".", 1)[-1]
    if step.kind is not StepKind.SCRIPT or extension not in ("sh", "bash"):
        result.not_converted.append(f"{where}: its error handler (a handler converts on a command step or a "
                                    "sh/bash script step)")
        return
    if re.search(r"\btrap\b", step.script):
        result.not_converted.append(f"{where}: its error handler (the script sets its own trap)")
        return
    on_error = 'labdeck_error_handler && exit 0; exit "$rc"' if recover else 'labdeck_error_handler; exit "$rc"'
    lines = step.script.split("\n")
    head = lines[:1] if lines[0].startswith("#!") else []
    step.script = "\n".join(head + [
        "labdeck_error_handler() {", code, "}",
        f"trap 'rc=$?; trap - EXIT; if [ \"$rc\" -ne 0 ]; then {on_error}; fi' EXIT"] + lines[len(head):])
    result.converted.append(f"{where}: error handler run by an EXIT trap when the script fails")


_HEREDOC_END = "LABDECK_ERROR_HANDLER"


def _handler_code(handler, result: JobConversion, where: str) -> str | None:
    """The handler as shell code: a command as it is, a sh/bash script fed to its shell from a
    quoted here-document (its text reaches the shell untouched). None: reported instead."""
    if isinstance(handler, dict) and "exec" in handler:
        return _rd_variables(str(handler["exec"]), "sh", result, where)
    if isinstance(handler, dict) and "script" in handler:
        body = str(handler["script"]).replace("\r\n", "\n")
        extension = str(handler.get("fileExtension") or "").lstrip(".") or _extension(body)
        if extension in ("sh", "bash") and not handler.get("args") and not handler.get("scriptInterpreter") \
                and _HEREDOC_END not in body:
            body = _rd_variables(body, extension, result, where)
            return f"{extension} -s <<'{_HEREDOC_END}'\n{body}\n{_HEREDOC_END}"
    kind = "a job reference" if isinstance(handler, dict) and "jobref" in handler else "this kind of"
    result.not_converted.append(f"{where}: its error handler ({kind} handler does not convert: only a command or "
                                "a sh/bash script without arguments)")
    return None


def _extension(script: str) -> str:
    first = script.lstrip().splitlines()[0] if script.strip() else ""
    if first.startswith("#!"):
        if "python" in first:
            return "py"
        if "pwsh" in first or "powershell" in first:
            return "ps1"
        return "bash" if "bash" in first else "sh"
    if first.lower().startswith("@echo off"):
        return "bat"
    return "sh"


_RD_OPTION_ENV = re.compile(r"\bRD_OPTION_([A-Z0-9_]+)")
_AT_OPTION = re.compile(r"@option\.([A-Za-z0-9_.-]+)@")


def _rd_variables(text: str, extension: str, result: JobConversion, where: str) -> str:
    """Rundeck's option variables to LabDeck's: $RD_OPTION_X -> $LABDECK_OPTION_X, and a
    script's @option.x@ token -> the option's environment variable in the script's shell."""
    changed = _RD_OPTION_ENV.sub(lambda m: f"LABDECK_OPTION_{m.group(1)}", text)

    def token(match: re.Match) -> str:
        name = env_name(match.group(1))
        return {"ps1": f"$env:{name}", "bat": f"%{name}%", "cmd": f"%{name}%", "py": match.group(0)}.get(
            extension, f"${{{name}}}")
    changed = _AT_OPTION.sub(token, changed)
    if extension == "py" and _AT_OPTION.search(changed):
        result.not_converted.append(f"{where}: @option.X@ tokens in a Python script (read os.environ"
                                    "['LABDECK_OPTION_X'] instead)")
    if changed != text:
        result.converted.append(f"{where}: Rundeck's option variables renamed to LabDeck's")
    return changed


def _node_selection(doc: dict, result: JobConversion) -> None:
    """Run-time node choices LabDeck does not have: said, never dropped."""
    if doc.get("nodesSelectedByDefault") in (False, "false"):
        result.not_converted.append("nodesSelectedByDefault: false (Rundeck made you tick the nodes at each run; "
                                    "LabDeck runs on the job's targets, or on others you give with 'Run with...' "
                                    "or --targets)")
    dispatch = (doc.get("nodefilters") or {}).get("dispatch") or {}
    if _true(dispatch.get("successOnEmptyNodeFilter")):
        result.not_converted.append("successOnEmptyNodeFilter: true (a LabDeck run whose targets match no node "
                                    "fails)")


# ---- targets -------------------------------------------------------------------------------

_FILTER_TOKEN = re.compile(r"(!?[\w.-]+):\s*(\"[^\"]*\"|'[^']*'|\S+)|(\S+)")


def _targets(nodefilters: dict, result: JobConversion, overrides: Overrides) -> str:
    """Rundeck's filter is a set of clauses that must all match ("the result is all nodes which
    match all of the clauses"); clauses on one attribute join their values into one list. So
    ``web1,web2 tags: gpu`` is (web1 or web2) and tag gpu: LabDeck's ``web1&tag:gpu,web2&tag:gpu``.
    A negated clause removes what it matches, as LabDeck's ``!`` term does."""
    if overrides.targets:
        result.converted.append(f"targets: {overrides.targets} (as asked)")
        return overrides.targets
    if nodefilters.get("include") or nodefilters.get("exclude"):
        raise InvalidInput("its node filter uses the old include/exclude form: import with --targets SPEC")
    text = str(nodefilters.get("filter") or "").strip()
    if not text:
        result.converted.append("no node filter: runs on this computer (as Rundeck runs it on its server)")
        return "this-computer"
    clauses: dict[str, list[str]] = {}   # "name" / "tags": alternatives, each an &-joined LabDeck term
    excluded: list[str] = []
    for match in _FILTER_TOKEN.finditer(text):
        key, value, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            key, value = "name", bare
        value = value.strip("\"'")
        negate = key.startswith("!")
        key = key.lstrip("!")
        if key in ("name", "nodename"):
            if value in (".*", "*"):
                alternatives = ["all"]
            elif re.search(r"[*?\[\]()|^$\\]", value):
                raise InvalidInput(f"its node filter '{text}' has the pattern '{value}': import with --targets SPEC")
            else:
                alternatives = [n for n in value.split(",") if n]
            (excluded if negate else clauses.setdefault("name", [])).extend(alternatives)
        elif key == "tags":
            alternatives = ["&".join(f"tag:{t}" for t in alt.split("+") if t) for alt in value.split(",")]
            (excluded if negate else clauses.setdefault("tags", [])).extend(a for a in alternatives if a)
        else:
            raise InvalidInput(f"its node filter '{text}' uses '{key}:', which LabDeck cannot match: import with "
                               "--targets SPEC")
    terms = ["all"]
    for alternatives in clauses.values():   # AND of the clauses: every combination of one value from each
        terms = [alt if term == "all" else term if alt == "all" else f"{term}&{alt}"
                 for term in terms for alt in dict.fromkeys(alternatives)]
    if excluded and nodefilters.get("dispatch", {}).get("excludePrecedence") in (False, "false"):
        result.not_converted.append("excludePrecedence: false (in LabDeck an excluded node stays excluded even "
                                    "when a name or tag includes it)")
    spec = ",".join(terms + [f"!{t}" for t in excluded])
    result.converted.append(f"node filter '{text}' -> targets {spec}")
    return spec
