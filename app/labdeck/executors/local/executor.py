"""The ``local`` executor: runs on this computer with subprocess.

POSIX: the command starts in a new session (its own process group); a stop sends TERM to
the group, KILL after the grace period, and checks the group is gone. Windows: the one command
line cmd.exe expects (windows_cmd.py), started inside a Job Object (job_object.py); a stop
terminates the job and checks through the job's process list that nothing is left.
Output is read by one thread per pipe, so neither pipe can fill up and stall the command.
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...core.errors import InvalidInput
from ...core.interpreters import NO_PYTHON, windows_python
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
    ScriptFile,
    background_note,
    stop_reason,
)
from ..posix_shell import PROBE_SCRIPT, parse_probe, script_invocation
from ..windows_cmd import SCRIPT_VARIABLE, cmd_line, script_command, script_environment
from ..winrm.commands import (
    codepage_for,  # Windows' code page for a Python codec name (no pywinrm import)
)
from .run_token import kill_carrying

IS_WINDOWS = sys.platform == "win32"


class LocalExecutor:
    def __init__(self, work_root: Path, encoding: str = "utf-8", node_name: str = "this-computer"):
        self.work_root = Path(work_root)
        self.node_name = node_name
        self.shell = Shell.CMD if IS_WINDOWS else Shell.SH
        self.encoding = encoding  # on Windows, cmd's console is switched to its code page

    # ---- commands ----------------------------------------------------------------------

    def run(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
            cancel: threading.Event) -> ExecResult:
        if IS_WINDOWS:
            return self._run_windows(request, sink, deadline, cancel)
        argv = self._argv(request)
        env = os.environ | request.env | self._write_value_files(request)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=env, start_new_session=True)
        except OSError as exc:
            raise _too_long(exc, argv, env) from None
        return self._follow(proc, request, sink, deadline, cancel, lambda: self._kill_tree(proc, request.kill_grace_s))

    def _run_windows(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
                     cancel: threading.Event) -> ExecResult:
        if sys.platform != "win32":  # (also tells mypy that the Windows-only names below exist)
            raise OSError("cmd.exe and Job Objects exist on Windows only")
        from .job_object import JobObject
        line, extra_env = self.windows_command_line(request)
        env = os.environ | request.env | extra_env | self._write_value_files(request)
        job = JobObject()
        try:
            try:
                proc = job.start(line, executable=os.environ.get("ComSpec", r"C:\Windows\System32\cmd.exe"),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 creationflags=subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW)
            except OSError as exc:
                raise _too_long(exc, [line], env) from None
            return self._follow(proc, request, sink, deadline, cancel,
                                lambda: _kill_job(job, proc, request.kill_grace_s))
        finally:
            job.close()  # kill-on-close: nothing of the step outlives it

    def windows_command_line(self, request: CommandRequest) -> tuple[str, dict[str, str]]:
        """The CreateProcess command line for a step on Windows, and the environment it adds."""
        code_page = codepage_for(self.encoding)
        if request.script is None:
            return cmd_line(request.command, code_page), {}
        path = self._write_script(request.run_tag, request.script)
        env = {SCRIPT_VARIABLE: str(path), **script_environment(request.script.filename)}
        python = request.script.interpreter or _local_python()
        if request.script.filename.lower().endswith(".py") and not python:
            raise InvalidInput(NO_PYTHON.format(node=self.node_name, script=request.script.filename))
        return cmd_line(script_command(request.script.filename, python), code_page), env

    def _follow(self, proc: subprocess.Popen, request: CommandRequest, sink: OutputSink, deadline: Deadline,
                cancel: threading.Event, kill) -> ExecResult:
        step_sink = _StepSink(sink)
        readers = [threading.Thread(target=_pump, args=(pipe, name, step_sink), daemon=True, name=f"local-{name}")
                   for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for reader in readers:
            reader.start()
        # Finished means the command exited and its output is closed; a background child still
        # holding the pipes gets a short grace (as over SSH), then is killed or left running.
        while proc.poll() is None or any(r.is_alive() for r in readers):
            if proc.poll() is not None and not IS_WINDOWS:
                if step_sink.after_exit.over():
                    return self._after_background(proc, request, readers, step_sink, kill)
            reason = stop_reason(deadline, cancel)
            if reason is not None:
                kill_state = kill()
                leftovers, survivors = kill_carrying(request.run_token, request.kill_grace_s)
                if survivors:
                    kill_state = KillState.KILL_UNCONFIRMED
                for reader in readers:
                    reader.join(timeout=2)
                return ExecResult(reason, proc.returncode, kill_state, proc.pid, leftovers)
            time.sleep(POLL_S) if proc.poll() is not None else _wait(proc, POLL_S)
        return ExecResult(Ending.EXITED, proc.returncode, None, proc.pid)

    def _after_background(self, proc: subprocess.Popen, request: CommandRequest, readers, step_sink,
                          kill) -> ExecResult:
        if request.keep_background:
            step_sink.closed = True  # what they print later is not this step's any more
            return ExecResult(Ending.EXITED, proc.returncode, None, proc.pid,
                              note=background_note(proc.returncode, True, None))
        state = kill()
        leftovers, survivors = kill_carrying(request.run_token, request.kill_grace_s)
        for reader in readers:
            reader.join(timeout=2)
        state = KillState.KILL_UNCONFIRMED if survivors else state
        return ExecResult(Ending.EXITED, proc.returncode, None, proc.pid, leftovers,
                          note=background_note(proc.returncode, False, state, leftovers))

    def _argv(self, request: CommandRequest) -> list[str]:
        if request.script is not None:
            path = self._write_script(request.run_tag, request.script)
            return ["/bin/sh", "-c", script_invocation(str(path), request.script)]
        return ["/bin/sh", "-c", request.command]

    def _write_script(self, run_tag: str, script: ScriptFile, mode: int = 0o700) -> Path:
        folder = self.work_root / run_tag
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(script.filename).name
        # Windows PowerShell 5.1 reads a .ps1 without a BOM as ANSI: the BOM keeps non-ASCII text intact
        encoding = "utf-8-sig" if script.filename.lower().endswith(".ps1") else "utf-8"
        part = path.with_name(f"{path.name}.part-{os.getpid()}-{threading.get_ident()}")
        # a value file keeps its bytes exactly (no newline translation on Windows)
        part.write_text(script.body, encoding=encoding, newline="\n" if not IS_WINDOWS or mode != 0o700 else None)
        part.chmod(mode)
        os.replace(part, path)  # whole or not at all
        return path

    def _write_value_files(self, request: CommandRequest) -> dict[str, str]:
        """Option values too large for the environment, as files in the run folder: their variables."""
        return {vf.variable: str(self._write_script(request.run_tag, ScriptFile(vf.filename, vf.body), 0o600))
                for vf in request.value_files}

    def kill_leftovers(self, token: str, grace_s: float) -> tuple[int, KillState] | None:
        if IS_WINDOWS:
            return None  # other processes' environments are not searched on Windows
        found, survivors = kill_carrying(token, grace_s)
        return found, KillState.KILL_UNCONFIRMED if survivors else KillState.KILLED

    def remove_run_folder(self, run_tag: str) -> bool:
        shutil.rmtree(self.work_root / run_tag, ignore_errors=True)
        return True

    def _kill_tree(self, proc: subprocess.Popen, grace_s: float) -> KillState:
        pgid = proc.pid
        _signal_group(pgid, signal.SIGTERM)
        end = time.monotonic() + grace_s
        while time.monotonic() < end and _group_alive(pgid, proc):
            time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)
        end = time.monotonic() + 2
        while time.monotonic() < end and _group_alive(pgid, proc):
            time.sleep(0.05)
        return KillState.KILL_UNCONFIRMED if _group_alive(pgid, proc) else KillState.KILLED

    # ---- files and probe ---------------------------------------------------------------

    def upload(self, local: Path, remote: str) -> None:
        target = Path(remote).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, target)

    def download(self, remote: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(remote).expanduser(), local)

    def probe(self) -> dict:
        if not IS_WINDOWS:
            out = subprocess.run(["/bin/sh", "-c", PROBE_SCRIPT], capture_output=True, text=True, timeout=20).stdout
            return parse_probe(out)
        disk = shutil.disk_usage(Path.home())
        return {"os": platform.system(), "os_family": "windows", "os_release": platform.release(),
                "arch": platform.machine(), "hostname": platform.node(), "cpus": os.cpu_count(),
                "disk_total_mb": disk.total // 2**20, "disk_free_mb": disk.free // 2**20}

    def detached_ops(self):
        """Detached runs on this computer (POSIX only; on Windows runs stay attached)."""
        if IS_WINDOWS:
            return None
        from ..detached_ops import LocalDetachedOps
        return LocalDetachedOps()

    def close(self) -> None:
        pass


class _StepSink:
    """The step's output sink, cut off once the step is over (background processes kept running)."""

    def __init__(self, sink: OutputSink):
        self._sink = sink
        self.closed = False
        self.after_exit = AfterExit()

    def __call__(self, name: str, data: bytes) -> None:
        if not self.closed:
            self.after_exit.output()
            self._sink(name, data)


def _pump(pipe, name: str, sink: OutputSink) -> None:
    with pipe:
        while True:
            data = pipe.read1(65536)
            if not data:
                return
            sink(name, data)


def _wait(proc: subprocess.Popen, seconds: float) -> None:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int, proc: subprocess.Popen) -> bool:
    """Whether any process of the group can still run (zombies cannot, and do not count)."""
    proc.poll()  # reap the leader
    proc_dir = Path("/proc")
    if proc_dir.is_dir():
        for stat in proc_dir.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _too_long(exc: OSError, argv: list[str], env: dict[str, str]) -> Exception:
    """A command line the OS refuses as too long (E2BIG; Windows: ERROR_FILENAME_EXCED_RANGE) becomes
    a clear error; any other failure to start is raised as it is."""
    if exc.errno != errno.E2BIG and getattr(exc, "winerror", None) != 206:
        return exc
    size = sum(len(a.encode()) for a in argv) + sum(len(k) + len(v.encode()) + 2 for k, v in env.items())
    return InvalidInput(f"the command and its environment ({size:,} bytes) are too long for this computer's "
                        "command line: keep large text in a script step or a file the command reads")


def _kill_job(job, proc: subprocess.Popen, grace_s: float, settle_s: float = 2.0) -> KillState:
    """End every process of the step's job, then check with the job's own list that none is left."""
    try:
        job.terminate()
    except OSError:
        pass  # every process may have ended already; the list below decides
    try:
        proc.wait(timeout=max(grace_s, settle_s))
    except subprocess.TimeoutExpired:
        return KillState.KILL_UNCONFIRMED
    return KillState.KILLED if job.wait_empty(settle_s) else KillState.KILL_UNCONFIRMED


def _local_python() -> str | None:
    """This computer's Python for .py steps: the one running LabDeck, unless LabDeck is frozen
    (then the py launcher or a python.exe on PATH that is not the Store's placeholder)."""
    return windows_python(shutil.which) if getattr(sys, "frozen", False) else sys.executable
