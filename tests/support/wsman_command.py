"""One command the WS-Management test server (tests/support/wsman_server.py) is running: its
local process, the output not yet received, its stdin, and the signals WinRM can send it.

The command's process is started by tests/support/wsman_emulation.py; stdout and stderr are
pumped by two threads into one list of chunks in the order they came, so a Receive takes what
has come so far, stdout and stderr interleaved as Windows sends them (several ``rsp:Stream``
elements per reply), up to what fits its reply, and the exit code once both pipes are closed.

As Windows PowerShell 5.1 does when started with ``-EncodedCommand`` and its stderr redirected,
a command run by a PowerShell stand-in (``clixml_stderr``) writes its errors to stderr as CLIXML:
``#< CLIXML`` then ``<Objs ...>`` with one ``<S S="Error">`` per line (``_x000D__x000A_`` for the
line end) and ``</Objs>`` when the process ends. Lines starting with ``#`` stay as they are: they
stand for what the real helpers write with ``[Console]::Error`` (a transfer's ``#end`` trailer).
With ``hold_exit_for_stdin`` the command does not end until its stdin is closed with a Send
``End="true"``, as PowerShell 2.0 waits for stdin to close before it exits.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid

from tests.support.clixml_stderr import CLIXML_END, CLIXML_HEADER, clixml_error_line

class Command:
    """One running command: its process and the output not yet received."""

    def __init__(self, proc, pid_mark: bool, clixml_stderr: bool = False, hold_exit_for_stdin: bool = False):
        self.proc = proc
        self.id = str(uuid.uuid4()).upper()
        self.cond = threading.Condition()
        self.chunks: list[list] = []  # [stream name, bytearray], in the order the output came
        if pid_mark:
            self.chunks.append(["stdout", bytearray(f"\x1eLABDECK_PID {proc.pid}\n".encode())])
        self.open_pipes = 2
        self.exit_code: int | None = None
        self.end_received = False
        self.stdin_closed = not hold_exit_for_stdin
        pump_err = self._pump_clixml if clixml_stderr else self._pump
        threading.Thread(target=self._pump, args=(proc.stdout, "stdout"), daemon=True).start()
        threading.Thread(target=pump_err, args=(proc.stderr, "stderr"), daemon=True).start()

    def _add(self, name: str, data: bytes) -> None:
        with self.cond:
            if self.chunks and self.chunks[-1][0] == name:
                self.chunks[-1][1] += data
            else:
                self.chunks.append([name, bytearray(data)])
            self.cond.notify_all()

    def _pump(self, pipe, name: str) -> None:
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
            self._add(name, chunk)
        self._pipe_closed(pipe)

    def _pump_clixml(self, pipe, name: str) -> None:
        started, held = False, b""
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
            *lines, held = (held + chunk).split(b"\n")
            out = bytearray()
            for line in lines:
                if line.startswith(b"#"):
                    out += line + b"\n"
                    continue
                if not started:
                    out += CLIXML_HEADER
                    started = True
                out += clixml_error_line(line)
            if out:
                self._add(name, bytes(out))
        if held:
            self._add(name, (b"" if started else CLIXML_HEADER) + clixml_error_line(held))
            started = True
        if started:
            self._add(name, CLIXML_END)
        self._pipe_closed(pipe)

    def _pipe_closed(self, pipe) -> None:
        pipe.close()
        with self.cond:
            self.open_pipes -= 1
            last = self.open_pipes == 0
        if last:
            code = self.proc.wait()
            with self.cond:
                self.cond.wait_for(lambda: self.stdin_closed)
                self.exit_code = code
                self.cond.notify_all()

    def take(self, wait_s: float, budget: int = 1 << 62) -> tuple[list[tuple[str, bytes]], int | None] | None:
        """Up to ``budget`` bytes of output as (stream, bytes) chunks in the order they came and
        (once everything is read) the exit code; None if nothing came in time."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.chunks or self.exit_code is not None, wait_s):
                return None
            taken: list[tuple[str, bytes]] = []
            while self.chunks and budget > 0:
                name, data = self.chunks[0]
                piece = bytes(data[:budget])
                del data[:len(piece)]
                budget -= len(piece)
                taken.append((name, piece))
                if not data:
                    self.chunks.pop(0)
            return taken, None if self.chunks else self.exit_code

    def write_stdin(self, data: bytes, end: bool) -> None:
        if end:
            with self.cond:
                self.stdin_closed = True
                self.cond.notify_all()
        if self.proc.stdin is None:
            return
        try:
            if data:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            if end:
                self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def terminate(self) -> None:
        with self.cond:
            self.stdin_closed = True
            self.cond.notify_all()
        if self.proc.poll() is None:
            self.proc.kill()

    def ctrl_c(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
