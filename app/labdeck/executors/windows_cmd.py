"""The exact command line a local step runs with on Windows (pure: no Windows needed to check it).

A Windows process gets one command-line string, and each program parses it its own way.
cmd.exe with ``/S /C "..."`` removes the first and the last quote of what follows ``/C`` and runs
the rest exactly as typed at a prompt. So the line is built as one string,
``cmd.exe /D /V:ON /S /C "<command>"``, and handed to CreateProcess as it is. Handing Python's
subprocess a list instead makes ``list2cmdline`` escape every inner quote as ``\\"``, which cmd.exe
does not understand: ``"C:\\Program Files\\x.exe" "a b"`` then fails.

The command first switches the console's code page (``chcp 65001``, or the node's own code page
when its encoding is set), so cmd's built-ins and console programs write UTF-8 into the pipes,
as they do over WinRM, and output in Korean or German reads back as it was written.

A script's path reaches cmd through the ``LABDECK_SCRIPT`` environment variable, written as
``!LABDECK_SCRIPT!``: a delayed expansion is never parsed again, so a path with spaces,
``&``, ``%`` or ``!`` in it stays one word.
"""

from __future__ import annotations

from pathlib import PureWindowsPath

from ..core.errors import InvalidInput

CMD_FLAGS = "/D /V:ON /S /C"
SCRIPT_VARIABLE = "LABDECK_SCRIPT"
UTF8_CODE_PAGE = 65001
POWERSHELL_FILE = "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File"
SCRIPT_TYPES = (".bat", ".cmd", ".ps1", ".py")


def cmd_line(command: str, code_page: int = UTF8_CODE_PAGE) -> str:
    """The whole command line for CreateProcess: cmd.exe runs ``command`` as typed at a prompt
    (no escaping added), after switching its console to ``code_page``."""
    if "\n" in command.strip() or "\r" in command.strip():
        raise InvalidInput("a cmd command is one line; put several lines in a .bat script step")
    if "\x00" in command:
        raise InvalidInput("the command contains a NUL character, which Windows cannot pass on")
    return f'cmd.exe {CMD_FLAGS} "chcp {int(code_page)}>nul & {command.strip()}"'


def script_command(filename: str, python: str | None = None) -> str:
    """What cmd runs for a script file whose path is in ``%LABDECK_SCRIPT%`` (the extension
    picks how: .bat/.cmd by cmd itself, .ps1 by Windows PowerShell, .py by ``python``)."""
    path = f'"!{SCRIPT_VARIABLE}!"'
    lower = filename.lower()
    if lower.endswith((".bat", ".cmd")):
        return f"call {path}"
    if lower.endswith(".ps1"):
        return f"{POWERSHELL_FILE} {path}"
    if lower.endswith(".py"):
        if not python:
            raise InvalidInput("no Python interpreter for this .py step; set the node's Python interpreter")
        return f"{quote_program(python)} {path}"
    raise InvalidInput(f"'{filename}' cannot run on Windows: name the script {', '.join(SCRIPT_TYPES)} "
                       "(the extension picks how it runs)")


def quote_program(program: str) -> str:
    """A program for a cmd line: a path is quoted (it may hold spaces), a launcher with its
    arguments (``py -3``) is kept as written."""
    program = program.strip()
    if program.startswith('"') or not _looks_like_path(program):
        return program
    return f'"{program}"'


def _looks_like_path(program: str) -> bool:
    path = PureWindowsPath(program)
    return bool(path.drive) or "\\" in program or "/" in program or " " not in program


UTF8_BOM = b"\xef\xbb\xbf"


def script_bytes(filename: str, body: str) -> bytes:
    """A script file's content: UTF-8, with a BOM for a .ps1, which Windows PowerShell 5.1 otherwise
    reads in the ANSI code page (German and Korean text then come out garbled)."""
    data = body.encode("utf-8")
    if filename.lower().endswith(".ps1") and not data.startswith(UTF8_BOM):
        return UTF8_BOM + data
    return data


def script_environment(filename: str) -> dict[str, str]:
    """What the interpreter needs to write UTF-8 into the pipes and not hold output back."""
    if filename.lower().endswith(".py"):
        return {"PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}
    return {}
