"""Option values into commands: environment names and ``${option.NAME}`` substitution,
quoted for the shell that will read the command, so that a value can never inject a command.

- sh (bash, dash, zsh): single quotes, with ``'`` written as ``'\\''``.
- PowerShell: single quotes, with every quote character doubled (no expansion happens
  inside). PowerShell also ends a single-quoted string at the typographic quotes
  U+2018..U+201B, so those are doubled too.
- cmd: cmd.exe has no quoting that stops every metacharacter, so the substitution is a
  delayed-expansion reference ``!LABDECK_OPTION_NAME!`` to the option's environment
  variable; the command must be run with ``cmd /V:ON``. Delayed expansion happens after
  the line is parsed, so ``&``, ``|``, ``%`` or quotes in the value are never parsed.
"""

from __future__ import annotations

import re
import shlex
from enum import StrEnum

from .errors import InvalidInput

_OPTION_REF = re.compile(r"\$\{option\.([A-Za-z_][A-Za-z0-9_.-]*)\}")
_PS_QUOTE_CHARS = re.compile("['\u2018\u2019\u201a\u201b]")
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class Shell(StrEnum):
    SH = "sh"
    CMD = "cmd"
    POWERSHELL = "powershell"


def env_name(option: str) -> str:
    """``batch-size`` -> ``LABDECK_OPTION_BATCH_SIZE``."""
    return "LABDECK_OPTION_" + re.sub(r"[^A-Za-z0-9]", "_", option).upper()


def check_option_name(name: str) -> str:
    if not _VALID_NAME.match(name):
        raise InvalidInput(f"invalid option name '{name}': "
                           "use letters, digits, '_', '-' or '.', starting with a letter")
    return name


# A hard cap on what a run may carry: a value lives in the catalog, in memory a few times over and,
# when it is larger than an environment takes, travels to every node as a file (core.option_values).
MAX_OPTION_VALUE_BYTES = 16 * 1024 * 1024
MAX_OPTIONS_TOTAL_BYTES = 32 * 1024 * 1024


def check_option_value(name: str, value: str, where: str = "") -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_OPTION_VALUE_BYTES:
        raise InvalidInput(f"{where}option '{name}' is {size:,} bytes long; a value may be at most "
                           f"{MAX_OPTION_VALUE_BYTES:,} bytes (put larger data in a file and pass its path)")
    if "\0" in value:
        raise InvalidInput(f"{where}option '{name}' contains a NUL character, which no command line or "
                           "environment can carry")
    return value


def check_option_total(values: dict[str, str], where: str = "") -> None:
    total = sum(len(v.encode("utf-8", "surrogatepass")) for v in values.values())
    if total > MAX_OPTIONS_TOTAL_BYTES:
        raise InvalidInput(f"{where}the option values total {total:,} bytes; together they may be at most "
                           f"{MAX_OPTIONS_TOTAL_BYTES:,} bytes (put larger data in files and pass their paths)")


def quote(value: str, shell: Shell) -> str:
    if shell is Shell.SH:
        return shlex.quote(value)
    if shell is Shell.POWERSHELL:
        return "'" + _PS_QUOTE_CHARS.sub(lambda m: m.group(0) * 2, value) + "'"
    raise ValueError("cmd values are passed by reference, see substitute()")


def substitute(text: str, options: dict[str, str], shell: Shell, in_files: frozenset[str] = frozenset()) -> str:
    """Replace each ``${option.NAME}`` with the quoted value; unknown names are an error.

    ``in_files``: options whose value reaches the step as a file (too large for the environment,
    see core.option_values). sh still gets the value quoted in the text (a long command travels as
    a script file); PowerShell reads the file; cmd.exe cannot hold such a value at all."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in options:
            known = ", ".join(sorted(options)) or "none"
            raise InvalidInput(f"the command uses ${{option.{name}}} but the job has no option '{name}' "
                               f"(options: {known})")
        if name in in_files and shell is Shell.POWERSHELL:
            # .NET reads UTF-8 exactly as written (PowerShell 2.0 too, which has no Get-Content -Raw)
            return f"([System.IO.File]::ReadAllText($env:{env_name(name)}_FILE))"
        if name in in_files and shell is Shell.CMD:
            size = len(options[name].encode("utf-8", "surrogatepass"))
            raise InvalidInput(f"option '{name}' is {size:,} bytes, more than a cmd.exe command or variable can "
                               f"hold, so a cmd step cannot use ${{option.{name}}}: read the file "
                               f"%{env_name(name)}_FILE% names (in a .ps1 or .py script step)")
        if shell is Shell.CMD:
            return f"!{env_name(name)}!"
        return quote(options[name], shell)

    return _OPTION_REF.sub(replace, text)


def option_environment(options: dict[str, str]) -> dict[str, str]:
    return {env_name(k): v for k, v in options.items()}


def shell_for_script(filename: str, default: Shell) -> Shell:
    lower = filename.lower()
    if lower.endswith((".bat", ".cmd")):
        return Shell.CMD
    if lower.endswith(".ps1"):
        return Shell.POWERSHELL
    if lower.endswith((".sh", ".bash")):
        return Shell.SH
    return default
