"""Running the labdeck command line in a child process, as a user would, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LABDECK = [sys.executable, "-m", "labdeck.cli"]


def labdeck(data_dir, *args, stdin: str | None = None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*LABDECK, "--data-dir", str(data_dir), *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=os.environ | {"PYTHONUNBUFFERED": "1"})


def add_node(data_dir, sshd, *extra):
    result = labdeck(data_dir, "node", "add", sshd.name, "--host", sshd.host, "--port", str(sshd.port),
                     "--user", sshd.user, "--key-file", str(sshd.key_file), "--accept-host-key", *extra)
    assert result.returncode == 0, result.stderr
    return result


def add_winrm(data_dir, server, *extra, password=None):
    return labdeck(data_dir, "node", "add", "win1", "--transport", "winrm", "--host", server.host,
                   "--port", str(server.port), "--user", server.username, "--auth", "basic", "--password-stdin",
                   *extra, stdin=(password or server.password) + "\n")


CLI_ENV = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "app")}
