"""Checking and committing jobs converted from other tools (Rundeck, Task Scheduler), shared
by the CLI (``job import --from rundeck``, ``schedule import --from taskscheduler``) and the
GUI's import dialogs, so both accept and refuse the same jobs with the same reasons.

``check_conversions`` holds each converted job to the rules of a LabDeck job file and to the
catalog (its targets, the jobs it runs); a job that fails is left out with the reason in its
report. ``windows_targets`` refuses targets a Task Scheduler task cannot run on. ``commit``
puts the jobs and their schedules into the catalog in one transaction: all of them or none.
"""

from __future__ import annotations

from ..core.errors import InvalidInput, LabDeckError
from ..core.job_refs import check_references, referenced
from ..core.models import Job, Node, Transport
from ..core.targets import resolve_targets
from ..importers.rundeck_convert import JobConversion


def check_conversions(catalog, conversions: list[JobConversion], targets_hint: str = "") -> None:
    """Leave out (``job = None``, the reason appended) every job the catalog cannot take."""
    from ..store.jobfile import check_job  # pydantic: loaded by an import, not by every command

    nodes = catalog.list_nodes()
    for conversion in conversions:
        if conversion.job is None:
            continue
        try:
            check_job(conversion.job, f"job '{conversion.name}'")  # the rules a LabDeck job file obeys
            chosen = resolve_targets(conversion.job.targets, nodes, allow_empty=True)
            _refuse_posix_on_windows(conversion, chosen)
        except LabDeckError as exc:
            conversion.job = None
            hint = f" ({targets_hint})" if targets_hint and "node" in str(exc) else ""
            conversion.not_converted.append(f"not imported: {exc}{hint}")
    check_job_references(conversions, catalog.list_jobs())


def _refuse_posix_on_windows(conversion: JobConversion, chosen: list[Node]) -> None:
    """A command with a folded error handler is POSIX shell: cmd and PowerShell cannot run it."""
    windows = [n.name for n in chosen if n.transport is Transport.WINRM]
    if conversion.posix_only and windows:
        raise InvalidInput(f"{', '.join(conversion.posix_only)}: its error handler was folded in as POSIX shell, "
                           f"which the Windows node(s) {', '.join(windows)} cannot run; target Linux nodes, "
                           "or remove the handler in Rundeck before exporting")


def check_job_references(conversions: list[JobConversion], existing: list[Job]) -> None:
    """A job step must name a job of the catalog or of the batch, without a loop; a job that
    fails that is left out (and then so is any job that runs it)."""
    while True:
        every = {j.name: j for j in existing} | {c.name: c.job for c in conversions if c.job is not None}
        failing = []
        for conversion in conversions:
            if conversion.job is not None and referenced(conversion.job):
                try:
                    check_references(conversion.job, every)
                except LabDeckError as exc:
                    failing.append((conversion, exc))
        if not failing:
            return
        for conversion, error in failing:
            conversion.job = None
            conversion.not_converted.append(f"not imported: {error}")


def windows_targets(catalog, spec: str, what: str = "--targets") -> list[Node]:
    """The nodes of ``spec``, refused unless each is a WinRM node whose command steps run in
    cmd: a Task Scheduler task's command lines are cmd's."""
    nodes = resolve_targets(spec, catalog.list_nodes())
    not_windows = [n.name for n in nodes if n.transport is not Transport.WINRM]
    if not_windows:
        are = "is not a" if len(not_windows) == 1 else "are not"
        raise InvalidInput(f"{what}: {', '.join(not_windows)} {are} "
                           "Windows (WinRM) node(s); a Task Scheduler task runs its programs through cmd")
    powershell = [n.name for n in nodes if n.winrm.shell != "cmd"]
    if powershell:
        raise InvalidInput(f"{what}: {', '.join(powershell)} run command steps in PowerShell; the task's "
                           "command lines are cmd's (labdeck node add ... --shell cmd)")
    return nodes


def commit(catalog, conversions: list[JobConversion], replace: bool = False) -> tuple[list[str], int]:
    """Import the given jobs and their schedules in one transaction; (job names, schedules)."""
    from ..store.job_import import import_jobs

    ready = [c for c in conversions if c.job is not None]
    if not ready:
        raise InvalidInput("nothing was imported: no job to import")
    schedules = [s for c in ready for s in c.schedules]
    import_jobs(catalog, [c.job for c in ready if c.job is not None], schedules, replace=replace)
    return [c.name for c in ready], len(schedules)
