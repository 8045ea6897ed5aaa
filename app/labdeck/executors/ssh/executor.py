"""The ``ssh`` executor: commands and scripts on a POSIX node over a pooled paramiko connection.

A command runs under ``setsid`` so its whole tree is one process group; the group id is the
first line of stdout (stripped before the log). stdout and stderr are drained together as
they arrive. A deadline or cancel kills the group over a second channel and verifies it is
gone. A connection that drops mid-command is NodeUnreachable, not a failed command.
"""

from __future__ import annotations

import secrets
import select
import shlex
import threading
import time
from pathlib import Path

import paramiko

from ...core.errors import NodeUnreachable
from ...core.exit_codes import signal_number
from ...core.quoting import Shell
from ...core.status import KillState
from ..base import (
    POLL_S,
    AfterExit,
    CommandRequest,
    Deadline,
    Ending,
    ExecResult,
    OutputSink,
    background_note,
    stop_reason,
)
from ..detached_ops import SshDetachedOps
from ..posix_shell import (
    PID_MARK,
    PROBE_SCRIPT,
    kill_group_script,
    kill_token_script,
    launch_wrapper,
    parse_leftovers,
    parse_probe,
    parse_survivors,
    script_invocation,
)
from . import exit_signal as ssh_exit_signal
from .connection import SftpUnavailable, SshConnection

REMOTE_ROOT = ".labdeck/runs"  # relative to the login directory
MARK_WAIT_S = 15.0  # how long a stop waits for a slow-starting command to report its group


class SshExecutor:
    shell = Shell.SH

    def __init__(self, connection: SshConnection):
        self.connection = connection
        self.node = connection.target.node
        self._detached: SshDetachedOps | None = None

    def detached_ops(self) -> SshDetachedOps:
        """Launching, following and killing detached runs on this node (one SFTP session for all)."""
        if self._detached is None:
            self._detached = SshDetachedOps(self.connection)
        return self._detached

    def run(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
            cancel: threading.Event) -> ExecResult:
        command = request.command
        if request.script is not None:
            path = self._upload_script(request)
            command = script_invocation(path, request.script)
        value_paths = self._upload_value_files(request)
        chan = self.connection.open_session()
        try:
            chan.exec_command(launch_wrapper(command, request.env, value_paths))
            return self._drain(chan, sink, deadline, cancel, request.kill_grace_s, request.run_token,
                               request.keep_background)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NodeUnreachable(f"node '{self.node}': connection lost during the command ({exc})") from exc
        finally:
            chan.close()

    def _drain(self, chan: paramiko.Channel, sink: OutputSink, deadline: Deadline,
               cancel: threading.Event, grace_s: float, token: str = "", keep_background: bool = False
               ) -> ExecResult:
        pgid: int | None = None
        head = b""  # stdout until the group-id line has been read
        transport = chan.get_transport()
        stop: Ending | None = None
        stop_since = 0.0
        after_exit = AfterExit()  # the step's shell exited, its output still open
        while True:
            got = False
            while chan.recv_ready():
                data = chan.recv(65536)
                got = True
                if pgid is None:
                    head += data
                    pgid, data, head = _split_mark(head)
                    if pgid is None:
                        continue
                if data:
                    sink("stdout", data)
            while chan.recv_stderr_ready():
                sink("stderr", chan.recv_stderr(65536))
                got = True
            if got:
                self.connection.mark_ok()
                after_exit.output()
            # sshd may send the exit status before the last output: done only at EOF too.
            ended = chan.eof_received or chan.closed
            if ended and chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                if head:
                    sink("stdout", head)
                status = chan.recv_exit_status()
                signum = signal_number(ssh_exit_signal.exit_signal(chan) or "")
                if status == -1 and signum:
                    status = 128 + signum  # as a shell reports a killed child
                if status == -1 and _connection_lost(transport):
                    raise NodeUnreachable(self._lost_message(pgid))
                return ExecResult(Ending.EXITED, status, None, pgid)
            if not ended and chan.exit_status_ready() and pgid:
                # The shell exited but something it started in the background still holds the
                # output (sshd closes the channel only at EOF): after a short quiet grace the step is done.
                if after_exit.over():
                    return self._after_background(chan, pgid, grace_s, token, keep_background)
            # A closed channel is handled above once its buffers are drained (closing sets the
            # exit-status event); only a dead connection with nothing left to read is unreachable.
            if not transport.is_active() and not chan.recv_ready() and not chan.recv_stderr_ready():
                raise NodeUnreachable(self._lost_message(pgid))
            if stop is None:
                stop = stop_reason(deadline, cancel)
                stop_since = time.monotonic()
            # A stop before the command has reported its group (a slow login) waits for the
            # group id, so the kill can be aimed and verified.
            if stop is not None and (pgid or time.monotonic() - stop_since > MARK_WAIT_S):
                if pgid:
                    state, leftovers, survivors = self.kill_group_named(pgid, grace_s, token)
                    return ExecResult(stop, None, state, pgid, leftovers, survivors=survivors)
                # Never reported: closing the channel makes the launcher die of SIGPIPE when it
                # writes the id, before the command itself starts.
                chan.close()
                return ExecResult(stop, None, KillState.KILL_UNCONFIRMED, None)
            if not got:
                if ended:
                    # After EOF paramiko's select pipe stays readable for good: wait for the
                    # exit status instead of spinning (which also starves the thread delivering it).
                    chan.status_event.wait(POLL_S)
                else:
                    select.select([chan], [], [], POLL_S)

    def _after_background(self, chan: paramiko.Channel, pgid: int, grace_s: float, token: str,
                          keep: bool) -> ExecResult:
        status = chan.recv_exit_status()
        if keep:
            return ExecResult(Ending.EXITED, status, None, pgid, note=background_note(status, True, None))
        state, leftovers = self.kill_group(pgid, grace_s, token)
        return ExecResult(Ending.EXITED, status, None, pgid, leftovers,
                          note=background_note(status, False, state, leftovers))

    def _lost_message(self, pgid: int | None) -> str:
        where = f" (process group {pgid})" if pgid else ""
        return (f"node '{self.node}': the connection dropped while the command ran; "
                f"it may still be running there{where}")

    def kill_group(self, pgid: int, grace_s: float, token: str = "") -> tuple[KillState, int]:
        """Signal the process group on the node, then what escaped it but carries the run token,
        and verify all of it is gone; with how many escaped processes were found."""
        state, leftovers, _survivors = self.kill_group_named(pgid, grace_s, token)
        return state, leftovers

    def kill_group_named(self, pgid: int, grace_s: float, token: str = "") -> tuple[KillState, int, tuple[str, ...]]:
        """kill_group, and what survived it, named (empty when all of it is gone)."""
        try:
            out = self._exec_quick(kill_group_script(pgid, grace_s, token), timeout=2 * grace_s + 15)
        except NodeUnreachable:
            return KillState.KILL_UNCONFIRMED, 0, ("the node stopped answering, so nothing could be checked",)
        state = KillState.KILLED if "GONE" in out else KillState.KILL_UNCONFIRMED
        return state, parse_leftovers(out), tuple(parse_survivors(out))

    def _exec_quick(self, command: str, timeout: float = 20) -> str:
        """A short helper command (kill, probe, mkdir); its stdout as text."""
        return self.connection.run_quick(command, timeout)

    def _upload_script(self, request: CommandRequest) -> str:
        assert request.script is not None
        return self._upload_file(request.run_tag, request.script.filename, request.script.body)

    def _upload_value_files(self, request: CommandRequest) -> dict[str, str]:
        """Option values too large for the environment, as files in the run folder: their
        variables, as paths under the login folder (``$HOME``, where sshd starts the session)."""
        return {vf.variable: self._upload_file(request.run_tag, vf.filename, vf.body, 0o600)
                for vf in request.value_files}

    def _upload_file(self, run_tag: str, filename: str, text: str, mode: int = 0o700) -> str:
        folder = f"{REMOTE_ROOT}/{run_tag}"
        path = f"{folder}/{Path(filename).name}"
        part = f"{path}.part-{secrets.token_hex(4)}"  # renamed into place whole: never run half-written
        body = text.encode("utf-8", "surrogatepass")
        try:
            sftp = self.connection.sftp()
        except SftpUnavailable:
            self._write_via_exec(folder, part, path, body, mode)
            return path
        try:
            _sftp_makedirs(sftp, folder)
            with sftp.open(part, "w") as f:
                f.write(body)
            sftp.chmod(part, mode)
            sftp.posix_rename(part, path)
        except (OSError, paramiko.SSHException) as exc:
            raise NodeUnreachable(f"node '{self.node}': uploading the script failed ({exc})") from exc
        finally:
            sftp.close()
        return path

    def kill_leftovers(self, token: str, grace_s: float) -> tuple[int, KillState]:
        out = self._exec_quick(kill_token_script(token, grace_s), timeout=2 * grace_s + 15)
        return parse_leftovers(out), KillState.KILLED if "GONE" in out else KillState.KILL_UNCONFIRMED

    def remove_run_folder(self, run_tag: str) -> bool:
        """The folder a finished attached node run's scripts were uploaded to."""
        self._exec_quick(f"rm -rf -- {shlex.quote(f'{REMOTE_ROOT}/{run_tag}')}")
        return True

    def _write_via_exec(self, folder: str, part: str, path: str, body: bytes, mode: int = 0o700) -> None:
        """The script through ``cat`` on an exec channel, for a server without SFTP."""
        q = shlex.quote
        command = (f"umask 077 && mkdir -p -- {q(folder)} && cat > {q(part)} && chmod {mode:o} -- {q(part)} "
                   f"&& mv -f -- {q(part)} {q(path)}")
        chan = self.connection.open_session(limited=False)
        try:
            chan.exec_command(command)
            chan.sendall(body)
            chan.shutdown_write()
            error = bytearray()
            while data := chan.recv_stderr(65536):
                error += data
            status = chan.recv_exit_status()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise NodeUnreachable(f"node '{self.node}': uploading the script failed ({exc})") from exc
        finally:
            chan.close()
        if status != 0:
            raise NodeUnreachable(f"node '{self.node}': uploading the script failed "
                                  f"({error.decode('utf-8', 'replace').strip() or f'exit {status}'})")

    def upload(self, local: Path, remote: str) -> None:
        sftp = self.connection.sftp()
        try:
            parent = remote.rsplit("/", 1)[0] if "/" in remote else ""
            if parent:
                _sftp_makedirs(sftp, parent)
            sftp.put(str(local), remote)
        finally:
            sftp.close()

    def download(self, remote: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        sftp = self.connection.sftp()
        try:
            sftp.get(remote, str(local))
        finally:
            sftp.close()

    def probe(self) -> dict:
        return parse_probe(self._exec_quick("/bin/sh -c " + shlex.quote(PROBE_SCRIPT)))

    def close(self) -> None:
        if self._detached is not None:
            self._detached.close()
        self.connection.close()


def _connection_lost(transport: paramiko.Transport, settle_s: float = 1.0) -> bool:
    """A channel closed without an exit status: the connection died, or (transport still up)
    the server sent none. The transport thread may need a moment to notice the dead socket."""
    end = time.monotonic() + settle_s
    while time.monotonic() < end:
        if not transport.is_active():
            return True
        time.sleep(0.05)
    return not transport.is_active()


def _split_mark(head: bytes) -> tuple[int | None, bytes, bytes]:
    """(pgid, output after the mark line, bytes still held) from the start of stdout."""
    if not head.startswith(PID_MARK[: len(head)]) and not head.startswith(PID_MARK):
        return 0, head, b""  # no mark (should not happen): pass everything through
    end = head.find(b"\n")
    if end < 0:
        return None, b"", head
    try:
        pgid = int(head[len(PID_MARK):end])
    except ValueError:
        pgid = 0
    return pgid, head[end + 1:], b""


def _sftp_makedirs(sftp: paramiko.SFTPClient, folder: str) -> None:
    current = ""
    for part in folder.split("/"):
        if not part:
            current = "/"
            continue
        current = f"{current}{part}" if current in ("", "/") else f"{current}/{part}"
        try:
            sftp.stat(current)
        except FileNotFoundError:
            sftp.mkdir(current)
