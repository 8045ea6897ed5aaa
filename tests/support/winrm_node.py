"""A Windows node for the tests that must hold on real Windows too (tests/integration/
test_winrm_node.py): the WS-Management test server here, or, when ``LABDECK_TEST_WINRM_HOST``
is set, a real Windows PC (the GitHub Actions job in .github/workflows/windows-winrm.yml points
it at the runner itself, ``localhost``, with real cmd.exe and PowerShell).

Settings of the real node come from the environment: ``LABDECK_TEST_WINRM_HOST``,
``LABDECK_TEST_WINRM_PORT`` (5985), ``LABDECK_TEST_WINRM_USER``, ``LABDECK_TEST_WINRM_PASSWORD``
and ``LABDECK_TEST_WINRM_AUTHS`` (the logins to test, ``basic,ntlm``).

The same test text runs on both: commands are written so cmd.exe and the server's sh stand-in
read them alike (``echo``), and ``WindowsNode`` supplies what cannot be (a long sleep, a write to
stderr, how to find a process on the node) for each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

ENV_HOST = "LABDECK_TEST_WINRM_HOST"


def real_node_configured() -> bool:
    return bool(os.environ.get(ENV_HOST))


def logins() -> list[str]:
    if real_node_configured():
        return [a.strip() for a in os.environ.get("LABDECK_TEST_WINRM_AUTHS", "basic,ntlm").split(",") if a.strip()]
    return ["basic", "ntlm"]


@dataclass
class WindowsNode:
    """Where the node is and how to say things on it. ``server`` is the test server, or None
    for a real Windows node."""
    host: str
    port: int
    username: str
    password: str
    auth: str
    server: object | None = None

    @property
    def real(self) -> bool:
        return self.server is None

    def add_to(self, engine, name: str = "win1", **winrm) -> None:
        from labdeck.core.models import Node, Transport, WinrmSettings

        node = Node(name=name, transport=Transport.WINRM, host=self.host, port=self.port, username=self.username,
                    winrm=WinrmSettings(**({"auth": self.auth} | winrm)))
        engine.add_node(node, secret=self.password, check=True)

    def long_command(self, seconds: int, marker: str) -> str:
        """A cmd step that runs for ``seconds`` in a child process whose command line holds
        ``marker`` (the tree a timeout or cancel must kill)."""
        if self.real:
            return f'echo up& cmd /c "ping -n {seconds + 1} 127.0.0.1 >nul & rem {marker}"'
        return f"echo up; sh -c 'sleep {seconds}; : {marker}'"

    def slow_lines(self) -> str:
        """A cmd step printing ``first-line``, waiting about 3 s, then ``last-line``."""
        if self.real:
            return "echo first-line& ping -n 4 127.0.0.1 >nul& echo last-line"
        return "echo first-line; sleep 3; echo last-line"

    def powershell_error(self, text: str) -> str:
        """A PowerShell step writing ``text`` as an error record (CLIXML on the wire)."""
        if self.real:
            return f"Write-Error '{text}'; exit 1"
        return f"echo '{text}' >&2; exit 1"

    def processes_with(self, marker: str) -> list[str]:
        """Processes on the node whose command line holds ``marker``."""
        if not self.real:
            out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
            return [line for line in out.splitlines() if marker in line and not line.lstrip().startswith("Z")]
        if self.host not in ("localhost", "127.0.0.1", "::1"):
            raise RuntimeError("checking processes needs the node to be this computer")
        script = (f"$ids = @(Get-CimInstance Win32_Process | Where-Object {{ $_.CommandLine -like '*{marker}*' -and "
                  f"$_.Name -ne 'powershell.exe' }} | ForEach-Object {{ $_.ProcessId }}); "
                  f"Get-Process -Id $ids -ErrorAction SilentlyContinue | ForEach-Object {{ \"$($_.Id) $($_.Name)\" }}")
        out = subprocess.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script],
                             capture_output=True, text=True, timeout=60).stdout
        return [line for line in out.splitlines() if line.strip()]


def marker() -> str:
    return f"labdeck-node-{uuid.uuid4().hex[:8]}"


def real_node(auth: str) -> WindowsNode:
    env = os.environ
    return WindowsNode(env[ENV_HOST], int(env.get("LABDECK_TEST_WINRM_PORT", "5985")), env["LABDECK_TEST_WINRM_USER"],
                       env["LABDECK_TEST_WINRM_PASSWORD"], auth)


def test_server_node(root: Path, auth: str):
    """(WindowsNode, server) for the test server with ``auth`` (basic, or ntlm with sealing)."""
    from tests.support.wsman_server import WsmanServer

    server = WsmanServer(root, auth="negotiate" if auth == "ntlm" else "basic").start()
    return WindowsNode(server.host, server.port, server.username, server.password, auth, server), server


def needs_windows_to_check_processes() -> bool:
    return real_node_configured() and sys.platform != "win32"
