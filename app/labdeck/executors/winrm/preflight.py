"""Preflight of a Windows node: the WinRM service quotas that break long jobs, judged against
what LabDeck needs, each with the exact PowerShell (as Administrator, on the node) that fixes it."""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3_600_000


@dataclass
class PreflightCheck:
    name: str
    value: str
    ok: bool
    advice: str = ""   # what to change, when not ok (or a note when ok)


def _set_item(name: str, value: int) -> str:
    return f"Set-Item WSMan:\\localhost\\Shell\\{name} {value}"


def _as_int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def judge_quotas(values: dict, parallel_commands: int) -> list[PreflightCheck]:
    """Checks for the quotas read from the node (``values``: name -> value as read).
    ``parallel_commands``: how many commands LabDeck may run on the node at once."""
    checks: list[PreflightCheck] = []

    def unread(name: str) -> PreflightCheck:
        return PreflightCheck(name, "?", False,
                              "could not be read (reading WinRM settings needs an administrator account); "
                              f"check it on the node: Get-Item WSMan:\\localhost\\Shell\\{name}")

    shells_needed = parallel_commands + 2  # plus the helper shell and one being reopened
    shells = _as_int(values.get("MaxShellsPerUser"))
    if shells is None:
        checks.append(unread("MaxShellsPerUser"))
    else:
        ok = shells >= shells_needed
        checks.append(PreflightCheck("MaxShellsPerUser", str(shells), ok, "" if ok else (
            f"LabDeck keeps up to {shells_needed} shells open on this node; raise it: "
            f"{_set_item('MaxShellsPerUser', max(30, shells_needed))}")))

    memory = _as_int(values.get("MaxMemoryPerShellMB"))
    if memory is None:
        checks.append(unread("MaxMemoryPerShellMB"))
    else:
        ok = memory == 0 or memory >= 8192
        checks.append(PreflightCheck("MaxMemoryPerShellMB", str(memory), ok, "" if ok else (
            f"a job that uses more than {memory} MB is killed by WinRM; lift the limit: "
            f"{_set_item('MaxMemoryPerShellMB', 0)}; "
            "Set-Item WSMan:\\localhost\\Plugin\\microsoft.powershell\\Quotas\\MaxMemoryPerShellMB 0; "
            "Restart-Service WinRM")))

    idle = _as_int(values.get("IdleTimeout"))
    if idle is None:
        checks.append(unread("IdleTimeout"))
    else:
        ok = idle >= 2 * HOUR_MS
        checks.append(PreflightCheck("IdleTimeout", f"{idle} ms ({idle / HOUR_MS:.1f} h)", ok, (
            "an idle shell is closed after this; LabDeck reopens it when needed") if ok else (
            f"shells are closed after {idle / 60000:.0f} idle minutes, which can end a quiet long command; "
            f"raise it: {_set_item('IdleTimeout', 8 * HOUR_MS)}")))

    processes = _as_int(values.get("MaxProcessesPerShell"))
    if processes is None:
        checks.append(unread("MaxProcessesPerShell"))
    else:
        ok = processes == 0 or processes >= 100
        checks.append(PreflightCheck("MaxProcessesPerShell", str(processes), ok, "" if ok else (
            f"a job starting more than {processes} processes fails; lift the limit: "
            f"{_set_item('MaxProcessesPerShell', 0)}")))
    return checks
