"""Detached runs on a Windows node over WinRM: the ``DetachedOps`` of a ``WinrmExecutor``.

Launching uploads the step scripts and the launcher into the run folder and starts the launcher
through ``Win32_Process.Create`` (see ``winrm_detached_scripts``); status, reads, kills and the
clean-up are short helper commands on the node's pooled shells. Each call is bounded in time:
a node that does not answer (or whose WinRM service refuses for now, e.g. a shell quota) is
NodeUnreachable, which the follower retries and the heartbeat counts.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from ...core.errors import LabDeckError, NodeUnreachable
from ...core.option_values import ValueFile
from ...core.status import KillState
from ..base import ScriptFile
from ..posix_detached import RemoteState, parse_status
from ..windows_cmd import script_bytes
from .clixml import ClixmlDecoder
from .detached_scripts import (
    LAUNCHER_NAME,
    DetachedStep,
    cleanup_script,
    command_step,
    launcher_script,
    read_script,
    run_dir,
    script_path,
    script_step,
    start_script,
    status_script,
)
from .job_objects import job_name

if TYPE_CHECKING:
    from .executor import WinrmExecutor

OP_TIMEOUT_S = 20.0      # longest silence of a status or read helper (powershell.exe starts slowly on a busy node)
START_WAIT_S = 20.0      # how long the start helper waits for the launcher to record its pid
READ_LIMIT = 1 << 20     # bytes per read helper (base64 in one WinRM output)
CLEANUP_TIMEOUT_S = 120.0


class WinrmDetachedOps:
    os_family = "windows"  # how an exit code is read (engine/detached.py)
    # the follower's longest pause between status checks while nothing new comes: each check is
    # a powershell.exe start on the node (a few hundred ms of CPU), so quieter than over SSH
    poll_max_s = 5.0

    def __init__(self, executor: WinrmExecutor):
        self.executor = executor
        self.node = executor.node

    def run_dir(self, tag: str) -> str:
        return run_dir(tag)

    def describe(self, pid: int, remote_dir: str) -> str:
        return f"launcher process {pid}, folder %USERPROFILE%\\{remote_dir}"

    def plan(self, remote_dir: str, steps: list[str | ScriptFile]) -> list[DetachedStep]:
        """The launcher's steps; refuses what cannot run before anything is uploaded."""
        planned = []
        for index, step in enumerate(steps, 1):
            if isinstance(step, ScriptFile):
                planned.append(script_step(step, script_path(remote_dir, index, step.filename), self.executor.utf8))
            else:
                planned.append(command_step(step, self.executor.shell, self.executor.utf8))
        return planned

    carries_value_files = True  # option values too large for an environment go as files into the run folder

    def launch(self, remote_dir: str, steps: list[str | ScriptFile], env: dict[str, str],
               limits=None, value_files: list[ValueFile] | None = None) -> int:
        """Upload the scripts and the launcher, start it; returns the launcher's pid."""
        planned = self.plan(remote_dir, steps)
        for step, planned_step in zip(steps, planned, strict=True):
            if isinstance(step, ScriptFile):
                self.executor._put_bytes(script_bytes(step.filename, step.body), planned_step.script)
        paths = {}
        for value in value_files or []:
            paths[value.variable] = f"{remote_dir}\\{value.filename}"
            self.executor._put_bytes(value.body.encode("utf-8", "surrogatepass"), paths[value.variable])
        launcher = launcher_script(remote_dir, planned, env, self.executor.utf8, paths)
        # with a BOM: Windows PowerShell reads a .ps1 without one in the ANSI code page
        self.executor._put_bytes(b"\xef\xbb\xbf" + launcher.encode("utf-8"), f"{remote_dir}\\{LAUNCHER_NAME}")
        out, err, code = self.executor._helper(start_script(remote_dir, START_WAIT_S), timeout=START_WAIT_S + 30)
        state = parse_status(out)
        if code != 0 or not state.pgid:
            detail = (out.strip() or err.strip() or f"exit code {code}").splitlines()[0][:300]
            raise LabDeckError(f"node '{self.node}': the detached command did not start ({detail})")
        return state.pgid

    def status(self, remote_dir: str, pgid: int | None) -> RemoteState:
        out, err, code = self._ask(status_script(remote_dir, pgid), "checking a detached command")
        if code != 0 or not out.strip():
            raise NodeUnreachable(f"node '{self.node}': the status check failed ({(err.strip() or out.strip())[:200]})")
        return parse_status(out)

    def read(self, remote_dir: str, stream: str, offset: int, limit: int) -> bytes:
        out, err, code = self._ask(read_script(remote_dir, stream, offset, min(limit, READ_LIMIT)),
                                   "reading a detached command's output")
        if code != 0:
            raise NodeUnreachable(f"node '{self.node}': reading {stream} failed ({err.strip()[:200]})")
        try:
            return base64.b64decode("".join(out.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NodeUnreachable(f"node '{self.node}': the output of a read came back garbled ({exc})") from exc

    def kill(self, pgid: int, grace_s: float, token: str = "") -> KillState:
        """The run's named Job Object (what its steps started, whoever's child it now is), then
        the launcher's process tree (``taskkill /T /F``), then a check that none of it is left."""
        return self.executor.kill_tree(pgid, grace_s, job_name(token))

    def cleanup(self, older_than_min: int) -> None:
        self._ask(cleanup_script(older_than_min), "cleaning old run folders", CLEANUP_TIMEOUT_S)

    def _ask(self, script: str, doing: str, timeout: float = OP_TIMEOUT_S) -> tuple[str, str, int]:
        """A helper whose failure means "no answer for now": the caller tries again later."""
        try:
            return self.executor._helper(script, timeout=timeout)
        except NodeUnreachable:
            raise
        except LabDeckError as exc:  # a WS-Man fault (a quota), a refused login: the run goes on there
            raise NodeUnreachable(f"{exc} (while {doing})") from exc

    @staticmethod
    def stderr_decoder() -> ClixmlDecoder:
        """A PowerShell step's errors reach the ``err`` file as CLIXML (powershell.exe with its
        stderr redirected): the follower shows them as text."""
        return ClixmlDecoder()

    def close(self) -> None:
        pass
