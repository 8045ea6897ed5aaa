"""What the WinRM executor asks a Windows node to run, as pure functions of their inputs.

Every job step and every helper (upload, download, kill, probe, preflight) runs as one
``powershell.exe -EncodedCommand`` process (the script as UTF-16LE base64, so no cmd.exe or
CommandLineToArgvW parsing ever touches it). Values reach these scripts only as PowerShell
single-quoted literals (``core.quoting``), which PowerShell never expands.

The scripts themselves live by what they do: ``launch.py`` runs job steps, ``helpers.py``
the small helpers (upload, download, kill, probe, preflight), ``transfer_scripts.py`` and
``detached_scripts.py`` file transfers and detached runs. This module holds what they share:
the ``powershell.exe`` invocation, quoting, code pages, remote paths and the script prelude.

Each script starts with a marker line (``# labdeck-launch cmd``, ``# labdeck-helper upload``...)
and keeps its parameters on lines of their own; the WS-Management test server relies on that
layout to emulate them (see tests/support/wsman_server.py).
"""

from __future__ import annotations

import base64
import codecs
import re

from ...core.errors import InvalidInput
from ...core.quoting import Shell, quote

POWERSHELL_EXE = "powershell.exe"
POWERSHELL_FLAGS = ("-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                    "-OutputFormat", "Text", "-EncodedCommand")
MAX_COMMAND_LINE = 32_000  # CreateProcess takes 32767 characters; WinRM runs the command without cmd.exe
REMOTE_ROOT = ".labdeck\\runs"  # under %USERPROFILE%
UTF8_CODEPAGE = 65001
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_CODEPAGES = {"utf-8": 65001, "latin-1": 28591, "iso8859-1": 28591, "iso8859-15": 28605, "shift_jis": 932,
              "gbk": 936, "gb2312": 936, "big5": 950, "euc_kr": 949, "koi8-r": 20866}


def ps_quote(value: str) -> str:
    return quote(value, Shell.POWERSHELL)


def encode_powershell(script: str) -> str:
    """The ``-EncodedCommand`` form of a script: base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def powershell_command(script: str) -> tuple[str, list[str]]:
    """(executable, arguments) for the WinRM Command message that runs ``script``."""
    encoded = encode_powershell(script)
    args = [*POWERSHELL_FLAGS, encoded]
    length = len(POWERSHELL_EXE) + sum(len(a) + 1 for a in args)
    if length > MAX_COMMAND_LINE:
        raise InvalidInput(f"the command is too long for Windows ({length} characters encoded, at most "
                           f"{MAX_COMMAND_LINE}); put it in a script step, which travels as a file")
    return POWERSHELL_EXE, args


def codepage_for(encoding: str) -> int:
    """The Windows code page matching a Python codec name (``cp850`` -> 850, ``utf-8`` -> 65001)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InvalidInput(f"unknown encoding '{encoding}': use a Python codec name such as utf-8 or cp850") from exc
    if name.startswith("cp") and name[2:].isdigit():
        return int(name[2:])
    if name in _CODEPAGES:
        return _CODEPAGES[name]
    raise InvalidInput(f"encoding '{encoding}' has no Windows code page LabDeck knows; use utf-8 or cpNNN")


def is_utf8(encoding: str) -> bool:
    return codepage_for(encoding) == UTF8_CODEPAGE


def safe_path_part(name: str) -> str:
    """A file or folder name that needs no quoting anywhere on Windows."""
    return _UNSAFE_PATH_CHARS.sub("_", name).strip(".") or "_"


def script_remote_path(run_tag: str, filename: str) -> str:
    """Where a script step is uploaded, relative to the user's profile folder."""
    return f"{REMOTE_ROOT}\\{safe_path_part(run_tag)}\\{safe_path_part(filename)}"


def windows_path(remote: str) -> str:
    return remote.replace("/", "\\")


def set_env(name: str, value: str) -> str:
    """The PowerShell line that sets one environment variable for the processes a script starts."""
    return f"[Environment]::SetEnvironmentVariable({ps_quote(name)}, {ps_quote(value)})"


def prelude(utf8: bool) -> list[str]:
    """The first lines of every script: stop on errors, no progress records, UTF-8 output."""
    lines = ["$ErrorActionPreference = 'Stop'", "$ProgressPreference = 'SilentlyContinue'"]
    if utf8:
        # try: a process without a console cannot set it; its output is then UTF-8 by the code page
        lines += ["try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }",
                  "$OutputEncoding = New-Object System.Text.UTF8Encoding $false"]
    return lines
