"""The ``winrm`` executor: commands and scripts on a Windows node over WinRM.

A step runs as a launch script (``launch.py``) on a shell reused from the node's pool.
Output goes to the sink as each Receive returns; the engine's deadline and cancel are checked
between receives, each of which is bounded in time (pywinrm's own loop retries forever). A
stop kills the step's process tree with ``taskkill /T /F`` on a second shell, checks that it is
gone, then sends the WS-Man terminate signal for the command. A connection that fails mid-step
is NodeUnreachable (the command may still run there), not a failed command; a shell the node
no longer has (IdleTimeout, a restarted WinRM service) took the step's processes with it, and
the error says so.

Everything the executor runs is a ``powershell.exe`` whose errors reach stderr as CLIXML
(winrm/clixml.py): a step's stderr goes through a ``ClixmlDecoder`` on its way to the log, and a
helper's errors are decoded before they are shown. Steps take no input: on a node whose
PowerShell may be 2.0, which waits for its stdin to close before it exits, a step's stdin is
closed (a Send with ``End="true"``) as soon as it starts. A node whose probe (stored when it was
added or tested, or taken by this executor) says PowerShell 3 or newer is spared that round trip.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from pathlib import Path

from winrm.exceptions import WSManFaultError

from ...core.errors import LabDeckError, NodeUnreachable
from ...core.models import Node
from ...core.quoting import Shell
from ...core.status import KillState
from ..base import CommandRequest, Deadline, Ending, ExecResult, OutputSink, stop_reason
from ..windows_cmd import script_bytes
from .clixml import ClixmlDecoder, decode_stderr
from .commands import codepage_for, is_utf8, powershell_command, script_remote_path
from .detached import WinrmDetachedOps
from .faults import fault_text
from .helpers import (
    download_script,
    home_script,
    kill_script,
    parse_key_values,
    parse_probe,
    preflight_script,
    probe_script,
    upload_script,
)
from .launch import command_payload, launch_script, script_payload, split_pid_mark
from .preflight import PreflightCheck, judge_quotas
from .session import (
    SIGNAL_TERMINATE,
    WINRM_FAILURES,
    OperationTimedOut,
    RemoteShell,
    ShellPool,
    WinrmTarget,
    shell_gone,
    translate,
)

RECEIVE_WAIT_S = 2.0    # longest single Receive while a step runs: bounds how late a stop is noticed
MARK_WAIT_S = 15.0      # how long a stop waits for a slow-starting step to report its pid
HELPER_TIMEOUT_S = 60.0
UPLOAD_CHUNK = 48 * 1024  # raw bytes per stdin line (64 KiB of base64), well inside MaxEnvelopeSize


def executor_for(node: Node, password: str | None) -> WinrmExecutor:
    """The executor for a WinRM node, with its password from the keyring."""
    w = node.winrm
    target = WinrmTarget(node=node.name, host=node.host, port=node.effective_port, username=node.username,
                         password=password, auth=w.auth, https=w.https, verify_cert=w.verify_cert,
                         codepage=codepage_for(node.encoding))
    executor = WinrmExecutor(target, Shell(w.shell), node.encoding)
    executor.learn_powershell(node.probe.get("powershell"))
    return executor


class WinrmExecutor:
    def __init__(self, target: WinrmTarget, shell: Shell = Shell.CMD, encoding: str = "utf-8"):
        self.target = target
        self.node = target.node
        self.shell = shell
        self.utf8 = is_utf8(encoding)
        self.pool = ShellPool(target)
        self._detached: WinrmDetachedOps | None = None
        self._home: str | None = None
        self.close_stdin = True  # until the node is known to run PowerShell 3 or newer

    def learn_powershell(self, major) -> None:
        """What a probe said about the node's PowerShell (its major version)."""
        try:
            self.close_stdin = int(str(major).split(".")[0]) < 3
        except (TypeError, ValueError):
            pass

    def detached_ops(self) -> WinrmDetachedOps:
        """Launching, following and killing detached runs on this node (started outside WinRM)."""
        if self._detached is None:
            self._detached = WinrmDetachedOps(self)
        return self._detached

    # ---- job steps -----------------------------------------------------------------------

    def run(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
            cancel: threading.Event) -> ExecResult:
        if request.script is not None:
            path = script_remote_path(request.run_tag, request.script.filename)
            payload = script_payload(request.script, path)
            self._put_bytes(script_bytes(request.script.filename, request.script.body), path)
        else:
            payload = command_payload(request.command, self.shell)
        value_paths = {}  # option values too large for the environment travel as files
        for value in request.value_files:
            value_paths[value.variable] = script_remote_path(request.run_tag, value.filename)
            self._put_bytes(value.body.encode("utf-8", "surrogatepass"), value_paths[value.variable])
        command, args = powershell_command(launch_script(payload, request.env, self.utf8, value_paths))
        with self.pool.command_slots:
            shell, command_id = self.pool.start(command, args)
            try:
                if self.close_stdin:
                    self._close_stdin(shell, command_id)
                result = self._drain(shell, command_id, sink, deadline, cancel, request.kill_grace_s)
            except OperationTimedOut as exc:
                deleted = shell.close()  # a shell deleted takes the step's processes with it
                lost = translate(exc, self.target, exc.args[0])
                raise NodeUnreachable(f"{lost}; " + ("the step's shell was closed, ending the step" if deleted else
                                                     "the step may still be running there")) from exc
            except WINRM_FAILURES as exc:
                self.pool.release(shell, False)
                if shell_gone(exc):
                    raise LabDeckError(f"node '{self.node}': the WinRM shell running the step is gone "
                                       f"({fault_text(exc)}); the step's processes ended with it") from exc
                lost = translate(exc, self.target, "running the step")
                raise NodeUnreachable(f"{lost}; it may still be running there") from exc
            except BaseException:
                self.pool.release(shell, False)
                raise
            if result.ending is Ending.EXITED:
                self.pool.finish(shell, command_id)
                return result
            # A stopped step's shell is deleted, not pooled: Windows then ends every process still
            # in the shell's job, which holds what taskkill /T cannot reach (a child whose parent
            # exited). Other processes' environments cannot be read on Windows, so there is no
            # run-token search there (README: what still escapes).
            self.pool.release(shell, False)
            return result

    @staticmethod
    def _close_stdin(shell: RemoteShell, command_id: str) -> None:
        """Steps take no input: close their stdin now (PowerShell 2.0 waits for that to exit).
        A step that already ended may have no stdin left to close: that fault is no error."""
        try:
            shell.send(command_id, b"", end=True)
        except WSManFaultError as exc:
            if shell_gone(exc):
                raise

    def _drain(self, shell: RemoteShell, command_id: str, sink: OutputSink, deadline: Deadline,
               cancel: threading.Event, grace_s: float) -> ExecResult:
        pid: int | None = None
        head = b""  # stdout until the pid line has been read
        errors = ClixmlDecoder()
        stop: Ending | None = None
        stop_since = 0.0
        while True:
            if stop is None:
                stop = stop_reason(deadline, cancel)
                stop_since = time.monotonic()
            if stop is not None and (pid is not None or time.monotonic() - stop_since > MARK_WAIT_S):
                return ExecResult(stop, None, self._stop(shell, command_id, pid, grace_s), pid or None)
            wait = RECEIVE_WAIT_S
            if stop is None and deadline.at is not None:
                wait = min(wait, max(0.0, deadline.at - time.monotonic()))
            got = shell.receive(command_id, wait)
            if got is None:
                continue
            out, err, exit_code, done = got
            if pid is None and out:
                head += out
                pid, out, head = split_pid_mark(head)
            if out:
                sink("stdout", out)
            if err and (err := errors.feed(err)):
                sink("stderr", err)
            if done:
                if head:
                    sink("stdout", head)
                if rest := errors.close():
                    sink("stderr", rest)
                return ExecResult(Ending.EXITED, exit_code, None, pid or None)

    def _stop(self, shell: RemoteShell, command_id: str, pid: int | None, grace_s: float) -> KillState:
        """Kill the step's tree (verified), then end the command with the terminate signal."""
        state = self.kill_tree(pid, grace_s) if pid else KillState.KILL_UNCONFIRMED
        _quietly(shell.signal, command_id, SIGNAL_TERMINATE)
        return state

    def kill_tree(self, pid: int, grace_s: float, job: str = "") -> KillState:
        """The tree of ``pid`` (and first the named Job Object ``job``), then checked."""
        try:
            out, _err, _code = self._helper(kill_script(pid, max(grace_s, 5.0), job), timeout=grace_s + 30)
        except LabDeckError:
            return KillState.KILL_UNCONFIRMED
        job_left = [line for line in out.splitlines() if line.startswith("JOB ")]
        if job_left and job_left[0].split()[-1] != "0":  # members of the job still active (or unknown)
            return KillState.KILL_UNCONFIRMED
        return KillState.KILLED if "GONE" in out else KillState.KILL_UNCONFIRMED

    # ---- helpers (upload, download, kill, probe, preflight) -----------------------------

    def _helper(self, script: str, stdin_chunks=(), timeout: float = HELPER_TIMEOUT_S,
                on_stdout=None) -> tuple[str, str, int]:
        """Run a helper script to its end: (stdout, stderr, exit code). ``stdin_chunks`` are
        sent first, each as one Send, the last one closing stdin. ``timeout`` is the longest
        wait for the helper's next output or its end. ``on_stdout`` takes stdout as it comes
        (a download of any size), which is then not returned."""
        command, args = powershell_command(script)
        shell, command_id = self.pool.start(command, args)
        try:
            pending = None
            for chunk in stdin_chunks:
                if pending is not None:
                    shell.send(command_id, pending)
                pending = chunk
            if pending is not None:
                shell.send(command_id, pending, end=True)
            out, err = bytearray(), bytearray()
            quiet_until = time.monotonic() + timeout
            while time.monotonic() < quiet_until:
                got = shell.receive(command_id, min(RECEIVE_WAIT_S * 5, max(1.0, quiet_until - time.monotonic())))
                if got is None:
                    continue
                quiet_until = time.monotonic() + timeout
                if on_stdout is not None:
                    on_stdout(got[0])
                else:
                    out += got[0]
                err += got[1]
                if got[3]:
                    self.pool.finish(shell, command_id)
                    return out.decode("utf-8", "replace"), decode_stderr(bytes(err)), got[2]
            _quietly(shell.signal, command_id)
            self.pool.release(shell, True)
        except BaseException as exc:
            self.pool.release(shell, False)
            if isinstance(exc, WINRM_FAILURES):
                raise translate(exc, self.target, "running a helper command") from exc
            raise
        raise NodeUnreachable(f"node '{self.node}': a helper command went {timeout:.0f} s without an answer")

    def _put_bytes(self, data: bytes, remote: str) -> None:
        self._put_stream([data], hashlib.sha256(data).hexdigest(), remote)

    def _put_stream(self, blocks, sha256: str, remote: str) -> None:
        def lines():
            yielded = False
            for block in blocks:
                for i in range(0, len(block), UPLOAD_CHUNK):
                    yielded = True
                    yield base64.b64encode(block[i:i + UPLOAD_CHUNK]) + b"\r\n"
            if not yielded:
                yield b"\r\n"

        out, err, code = self._helper(upload_script(remote), lines())
        got = parse_key_values(out).get("sha256")
        if code != 0 or got != sha256:
            detail = err.strip().splitlines()[0] if err.strip() else f"checksum {got or 'missing'}, expected {sha256}"
            raise LabDeckError(f"node '{self.node}': uploading {remote} failed ({detail})")

    def upload(self, local: Path, remote: str) -> None:
        digest = hashlib.sha256()
        with open(local, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)

        def blocks():
            with open(local, "rb") as f:
                yield from iter(lambda: f.read(UPLOAD_CHUNK * 16), b"")

        self._put_stream(blocks(), digest.hexdigest(), remote)

    def download(self, remote: str, local: Path) -> None:
        """The file arrives as base64 lines, decoded as they come into ``<local>.part``, which
        becomes ``local`` only when the whole file is there."""
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        part = local.with_name(local.name + ".part")
        held = bytearray()
        with open(part, "wb") as f:
            def take(data: bytes) -> None:
                held.extend(data)
                *lines, rest = held.split(b"\n")
                f.writelines(base64.b64decode(line) for line in lines if line.strip())
                held[:] = rest

            try:
                _out, err, code = self._helper(download_script(remote), timeout=HELPER_TIMEOUT_S, on_stdout=take)
                take(b"\n")
            except BaseException:
                part.unlink(missing_ok=True)
                raise
        if code != 0:
            part.unlink(missing_ok=True)
            detail = err.strip().splitlines()[0] if err.strip() else f"exit code {code}"
            raise LabDeckError(f"node '{self.node}': downloading {remote} failed ({detail})")
        part.replace(local)

    def probe(self) -> dict:
        out, err, code = self._helper(probe_script())
        if code != 0:
            raise LabDeckError(f"node '{self.node}': the probe failed ({err.strip()[:300] or f'exit code {code}'})")
        info = parse_probe(out)
        self.learn_powershell(info.get("powershell"))
        return info

    def home_folder(self) -> str:
        """The user's profile folder on the node (``C:\\Users\\name``), where relative paths
        start; asked once. Windows has no ``$HOME``."""
        if self._home is None:
            out, err, code = self._helper(home_script())
            home = str(parse_key_values(out).get("home", ""))
            if code != 0 or not re.match(r"^[A-Za-z]:\\", home):
                raise LabDeckError(f"node '{self.node}': could not read its profile folder "
                                   f"({err.strip()[:200] or home or f'exit code {code}'})")
            self._home = home
        return self._home

    def preflight(self) -> list[PreflightCheck]:
        """Reachability, login and the WinRM quotas that break long jobs, each with what to change."""
        t = self.target
        checks = [PreflightCheck("reachable", t.endpoint, True,
                                 "" if t.https or t.auth != "basic" else
                                 "basic auth over HTTP sends the password readable by anyone on the network; "
                                 "use HTTPS (--https) or ntlm")]
        out, _err, _code = self._helper(preflight_script())
        checks.append(PreflightCheck("login", f"{t.username} ({t.auth})", True))
        return checks + judge_quotas(parse_key_values(out), self.pool.max_commands)

    def kill_leftovers(self, token: str, grace_s: float) -> None:
        """Windows ends a WinRM shell's processes with the shell: an attached step does not
        outlive it, so there is nothing to find by the token."""
        return None

    def remove_run_folder(self, run_tag: str) -> bool:
        """``%USERPROFILE%\\.labdeck\\runs\\<run>\\`` through the transfer helpers' delete (one
        PowerShell start per node run that uploaded a script)."""
        from .transfer import WinrmTransfer  # the transfer helpers load with the first use
        WinrmTransfer(self).remove(script_remote_path(run_tag, "x").rsplit("\\", 1)[0])
        return True

    def close(self) -> None:
        self.pool.close()


def _quietly(call, *args) -> None:
    """A courtesy message to the node; the node being gone is not an error here."""
    try:
        call(*args)
    except Exception:  # noqa: BLE001
        pass
