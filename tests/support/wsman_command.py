"""One command the WS-Management test server (tests/support/wsman_server.py) is running: its
local process, the output not yet received, its stdin, and the signals WinRM can send it.

The command's process is started by tests/support/wsman_emulation.py; stdout and stderr are
pumped into buffers by two threads, so a Receive takes what has come so far, up to what fits its
reply (Windows hands out output as it arrives) and the exit code once both pipes are closed.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid


class Command:
    """One running command: its process and the output not yet received."""

    def __init__(self, proc, pid_mark: bool):
        self.proc = proc
        self.id = str(uuid.uuid4()).upper()
        self.cond = threading.Condition()
        self.out = bytearray(f"\x1eLABDECK_PID {proc.pid}\n".encode() if pid_mark else b"")
        self.err = bytearray()
        self.open_pipes = 2
        self.exit_code: int | None = None
        self.end_received = False
        for pipe, buf in ((proc.stdout, self.out), (proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(pipe, buf), daemon=True).start()

    def _pump(self, pipe, buf: bytearray) -> None:
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
            with self.cond:
                buf += chunk
                self.cond.notify_all()
        pipe.close()
        with self.cond:
            self.open_pipes -= 1
            last = self.open_pipes == 0
        if last:
            code = self.proc.wait()
            with self.cond:
                self.exit_code = code
                self.cond.notify_all()

    def take(self, wait_s: float, budget: int = 1 << 62) -> tuple[bytes, bytes, int | None] | None:
        """Up to ``budget`` bytes of output and (once everything is read) the exit code; None if
        nothing came in time."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.out or self.err or self.exit_code is not None, wait_s):
                return None
            out = bytes(self.out[:budget])
            err = bytes(self.err[:budget - len(out)])
            del self.out[:len(out)]
            del self.err[:len(err)]
            return out, err, None if self.out or self.err else self.exit_code

    def write_stdin(self, data: bytes, end: bool) -> None:
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
