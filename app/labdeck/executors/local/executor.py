"""The ``local`` executor: runs on this computer with subprocess.

POSIX: the command starts in a new session (its own process group); a stop sends TERM to
the group, KILL after the grace period, and checks the group is gone. Windows: started in a
new process group; a stop runs ``taskkill /T /F`` on the tree and checks every process of it
is gone (process_tree.py).
Output is read by one thread per pipe, so neither pipe can fill up and stall the command.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...core.quoting import Shell
from ...core.status import KillState
from ..base import POLL_S, CommandRequest, Deadline, Ending, ExecResult, OutputSink, ScriptFile, stop_reason
from ..posix_shell import PROBE_SCRIPT, parse_probe, script_invocation
from .process_tree import kill_tree

IS_WINDOWS = sys.platform == "win32"


class LocalExecutor:
    def __init__(self, work_root: Path):
        self.work_root = Path(work_root)
        self.shell = Shell.CMD if IS_WINDOWS else Shell.SH

    # ---- commands ----------------------------------------------------------------------

    def run(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
            cancel: threading.Event) -> ExecResult:
        argv = self._argv(request)
        env = os.environ | request.env
        kwargs: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "env": env}
        if IS_WINDOWS:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        else:
            kwargs["start_new_session"] = True
        proc = subprocess.Popen(argv, **kwargs)
        readers = [threading.Thread(target=_pump, args=(pipe, name, sink), daemon=True, name=f"local-{name}")
                   for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for reader in readers:
            reader.start()
        # Finished means the command exited and its output is closed: a background child
        # still holding the pipes keeps the run going (as over SSH) until it ends or is stopped.
        while proc.poll() is None or any(r.is_alive() for r in readers):
            reason = stop_reason(deadline, cancel)
            if reason is not None:
                kill_state = self._kill_tree(proc, request.kill_grace_s)
                for reader in readers:
                    reader.join(timeout=2)
                return ExecResult(reason, proc.returncode, kill_state, proc.pid)
            time.sleep(POLL_S) if proc.poll() is not None else _wait(proc, POLL_S)
        return ExecResult(Ending.EXITED, proc.returncode, None, proc.pid)

    def _argv(self, request: CommandRequest) -> list[str]:
        if request.script is not None:
            path = self._write_script(request.run_tag, request.script)
            if IS_WINDOWS:
                return _windows_script_argv(path, request.script)
            return ["/bin/sh", "-c", script_invocation(str(path), request.script)]
        if IS_WINDOWS:
            return ["cmd.exe", "/D", "/V:ON", "/S", "/C", request.command]
        return ["/bin/sh", "-c", request.command]

    def _write_script(self, run_tag: str, script: ScriptFile) -> Path:
        folder = self.work_root / run_tag
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(script.filename).name
        path.write_text(script.body, encoding="utf-8", newline="\n" if not IS_WINDOWS else None)
        path.chmod(0o700)
        return path

    def _kill_tree(self, proc: subprocess.Popen, grace_s: float) -> KillState:
        if IS_WINDOWS:
            return kill_tree(proc, grace_s)  # taskkill /T /F, then every process of the tree checked
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


def _windows_script_argv(path: Path, script: ScriptFile) -> list[str]:
    name = script.filename.lower()
    if name.endswith(".ps1"):
        return ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", str(path)]
    if name.endswith(".py"):
        return [sys.executable if not getattr(sys, "frozen", False) else "python", str(path)]
    return ["cmd.exe", "/D", "/V:ON", "/S", "/C", str(path)]
