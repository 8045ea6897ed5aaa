"""Self-test checks of what a frozen build can lose without anyone noticing until a user hits it:
the modules the Windows-node paths import only when first needed (pywinrm, pyspnego with sspilib
on Windows, smbprotocol's smbclient), the IANA time-zone data (Windows has none of its own: the
``tzdata`` package must be bundled), and a local command with quotes and non-ASCII words, which
goes through cmd.exe's command line and code page on Windows."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from datetime import datetime

LAZY_MODULES = ["paramiko", "winrm", "winrm.protocol", "requests_ntlm", "spnego", "smbclient", "smbprotocol.connection"]
WINDOWS_LAZY_MODULES = ["sspilib"]
GREETING = "Grüße aus LabDeck, 한국어"


def check_lazy_imports(checks) -> None:
    wanted = LAZY_MODULES + (WINDOWS_LAZY_MODULES if sys.platform == "win32" else [])
    missing = []
    for name in wanted:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 (any failure to import is what this check reports)
            missing.append(f"{name} ({exc.__class__.__name__}: {exc})")
    ntlm = ""
    if not missing:
        import spnego
        token = spnego.client("self-test", "not-a-secret", hostname="localhost", protocol="ntlm").step()
        ntlm = f"; an NTLM negotiate message of {len(token or b'')} bytes"
        missing += [] if token and token.startswith(b"NTLMSSP\x00") else ["spnego's NTLM"]
    checks.check(not missing, f"modules loaded on first use: {', '.join(wanted)}{ntlm}"
                 + (f"; missing: {', '.join(missing)}" if missing else ""))


def check_time_zones(checks) -> None:
    try:
        from importlib import resources
        from zoneinfo import ZoneInfo
        # the tzdata package itself, which is all Windows has (Linux and macOS also have their own)
        bundled = resources.files("tzdata").joinpath("zoneinfo", "Europe", "Berlin").is_file()
        berlin = ZoneInfo("Europe/Berlin")
        winter = datetime(2026, 1, 15, 12, tzinfo=berlin).utcoffset().total_seconds() / 3600
        summer = datetime(2026, 7, 15, 12, tzinfo=berlin).utcoffset().total_seconds() / 3600
    except Exception as exc:  # noqa: BLE001
        checks.check(False, f"time zones: ZoneInfo('Europe/Berlin') failed ({exc.__class__.__name__}: {exc}); "
                            "is the tzdata package bundled?")
        return
    checks.check(bundled and (winter, summer) == (1, 2), f"time zones: Europe/Berlin is UTC+{winter:g} in winter, "
                                                         f"UTC+{summer:g} in summer; tzdata's zones present: {bundled}")


def local_greeting_command() -> str:
    """A quoted program and a quoted argument with non-ASCII words (the case cmd.exe's /S rule and the
    OEM code page broke)."""
    if sys.platform == "win32":
        comspec = os.environ.get("ComSpec", r"C:\Windows\System32\cmd.exe")
        return f'"{comspec}" /d /c echo "{GREETING}"'
    return f'"/bin/echo" "{GREETING}"'


def check_local_command(checks, work_dir) -> None:
    from ..executors.base import CommandRequest, Deadline
    from ..executors.local.executor import LocalExecutor

    out = bytearray()
    result = LocalExecutor(work_dir).run(CommandRequest(command=local_greeting_command()),
                                         lambda _name, data: out.extend(data), Deadline.after(30), threading.Event())
    text = out.decode("utf-8", errors="replace").strip()
    checks.check(result.exit_code == 0 and GREETING in text,
                 f"a local command with quotes and non-ASCII words: exit code {result.exit_code}, output {text!r}")
