"""What the engine can do with a detached run on a POSIX node: launch it, ask its state, read
its output from an offset, kill its process group, clean up old run folders. One
implementation over a pooled SSH connection, one for this computer; both run the same shell
text from ``posix_detached``. Each call is bounded in time, so a node that stops answering
is noticed (NodeUnreachable) instead of hanging the caller."""

from __future__ import annotations

import shlex
import subprocess
import threading
from pathlib import Path
from typing import Protocol

import paramiko

from ..core.errors import NodeUnreachable
from ..core.option_values import ValueFile
from ..core.status import KillState
from .base import LaunchLimits, ScriptFile
from .posix_detached import (
    RUNS_ROOT,
    RemoteState,
    cleanup_script,
    launcher_script,
    parse_status,
    start_command,
    status_script,
)
from .posix_shell import kill_group_script, script_invocation
from .ssh.connection import SshConnection

OP_TIMEOUT_S = 8.0


class DetachedOps(Protocol):
    def run_dir(self, tag: str) -> str: ...

    def launch(self, remote_dir: str, steps: list[str | ScriptFile], env: dict[str, str],
               limits: LaunchLimits | None = None) -> int:
        """Start the steps; the id to follow them by (a process group, a Slurm job id).
        ``limits``: for a batch scheduler (others ignore them)."""

    def status(self, remote_dir: str, pgid: int | None) -> RemoteState: ...

    def read(self, remote_dir: str, stream: str, offset: int, limit: int) -> bytes: ...

    def kill(self, pgid: int, grace_s: float, token: str = "") -> KillState:
        """The launcher's process group (tree on Windows), then -- where the node can be searched
        by it -- whatever carries the node run's token (LABDECK_RUN_TOKEN) outside it."""

    def cleanup(self, older_than_min: int) -> None: ...


class _PosixOps:
    """The shared logic; subclasses provide running shell text and file access on the node."""

    node = ""

    def _sh(self, script: str, timeout: float = OP_TIMEOUT_S) -> str:
        raise NotImplementedError

    def _write(self, path: str, text: str, mode: int = 0o600) -> None:
        raise NotImplementedError

    def run_dir(self, tag: str) -> str:
        return f"{RUNS_ROOT}/{tag}"

    def _write_steps(self, remote_dir: str, steps: list[str | ScriptFile]) -> list[str]:
        """Make the run folder, upload each script step into it; the shell line of every step."""
        self._sh(f"mkdir -p {shlex.quote(remote_dir)}")
        invocations = []
        for index, step in enumerate(steps, 1):
            if isinstance(step, ScriptFile):
                path = f"{remote_dir}/{index}-{Path(step.filename).name}"
                self._write(path, step.body, 0o700)
                invocations.append(script_invocation(path, step))
            else:
                invocations.append(f"/bin/sh -c {shlex.quote(step)}")
        return invocations

    carries_value_files = True  # option values too large for an environment go as files into the run folder

    def launch(self, remote_dir: str, steps: list[str | ScriptFile], env: dict[str, str],
               limits: LaunchLimits | None = None, value_files: list[ValueFile] | None = None) -> int:
        """Upload the scripts and the launcher, start it; returns the command's process group."""
        invocations = self._write_steps(remote_dir, steps)
        for value in value_files or []:
            self._write(f"{remote_dir}/{value.filename}", value.body, 0o600)
        files = {value.variable: value.filename for value in value_files or []}
        self._write(f"{remote_dir}/launch.sh", launcher_script(invocations, env, files), 0o700)
        out = self._sh(start_command(remote_dir), timeout=OP_TIMEOUT_S + 10)
        pgid = parse_status(out).pgid
        if not pgid:
            raise NodeUnreachable(f"node '{self.node}': the detached command did not start ({out.strip()[:200]})")
        return pgid

    def status(self, remote_dir: str, pgid: int | None) -> RemoteState:
        return parse_status(self._sh(status_script(remote_dir, pgid)))

    def kill(self, pgid: int, grace_s: float, token: str = "") -> KillState:
        try:
            out = self._sh(kill_group_script(pgid, grace_s, token), timeout=2 * grace_s + OP_TIMEOUT_S + 2)
        except NodeUnreachable:
            return KillState.KILL_UNCONFIRMED
        return KillState.KILLED if "GONE" in out else KillState.KILL_UNCONFIRMED

    def cleanup(self, older_than_min: int) -> None:
        self._sh(cleanup_script(older_than_min), timeout=60)


class SshDetachedOps(_PosixOps):
    """Over the node's pooled connection; one SFTP session shared by the node's detached runs."""

    def __init__(self, connection: SshConnection):
        self.connection = connection
        self.node = connection.target.node
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()

    def _sh(self, script: str, timeout: float = OP_TIMEOUT_S) -> str:
        return self.connection.run_quick("/bin/sh -c " + shlex.quote(script), timeout, drop_on_failure=True)

    def _with_sftp(self, action):
        with self._sftp_lock:
            try:
                if self._sftp is None:
                    self._sftp = self.connection.sftp()
                    channel = self._sftp.get_channel()
                    if channel is not None:
                        channel.settimeout(OP_TIMEOUT_S)
                return action(self._sftp)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                self._close_sftp()
                self.connection.drop()
                raise NodeUnreachable(f"node '{self.node}': no answer over SFTP ({exc or type(exc).__name__})") from exc

    def _write(self, path: str, text: str, mode: int = 0o600) -> None:
        def write(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(path, "w") as f:
                f.write(text.encode("utf-8"))
            sftp.chmod(path, mode)
        self._with_sftp(write)

    def read(self, remote_dir: str, stream: str, offset: int, limit: int) -> bytes:
        def read(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(f"{remote_dir}/{stream}", "r") as f:
                f.seek(offset)
                f.prefetch(limit)
                return f.read(limit)
        try:
            return self._with_sftp(read)
        except FileNotFoundError:
            return b""

    def _close_sftp(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._sftp = None

    def close(self) -> None:
        with self._sftp_lock:
            self._close_sftp()


class LocalDetachedOps(_PosixOps):
    """On this computer (POSIX): the same launcher, run with /bin/sh from the home folder."""

    node = "this computer"

    def __init__(self, home: Path | None = None):
        self.home = Path(home or Path.home())

    def _sh(self, script: str, timeout: float = OP_TIMEOUT_S) -> str:
        try:
            return subprocess.run(["/bin/sh", "-c", script], cwd=self.home, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL).stdout
        except subprocess.TimeoutExpired as exc:
            raise NodeUnreachable(f"a local helper command took over {timeout:g} s") from exc

    def _write(self, path: str, text: str, mode: int = 0o600) -> None:
        target = self.home / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        target.chmod(mode)

    def read(self, remote_dir: str, stream: str, offset: int, limit: int) -> bytes:
        try:
            with open(self.home / remote_dir / stream, "rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""

    def close(self) -> None:
        pass
