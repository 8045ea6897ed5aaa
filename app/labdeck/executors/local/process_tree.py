"""Kill a local process tree where there are no process groups to signal (Windows), and verify it.

Windows has no ``killpg``: ``taskkill /T /F`` ends a process and its descendants by walking
parent ids. The tree is noted first (psutil), so the check afterwards covers every process that
was part of it, not just the leader; a process still running (a zombie does not count) makes the
result "kill unconfirmed". POSIX uses process groups instead (see local.py); the functions here
are plain psutil and also run there, which is how they are tested on Linux."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import psutil

from ...core.status import KillState


def taskkill_argv(pid: int) -> list[str]:
    """Windows' own tree kill: /T the process and every descendant, /F without asking them to close."""
    return ["taskkill", "/T", "/F", "/PID", str(int(pid))]


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants as they are now (empty if it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those that can still run: not ended, not a zombie, and not a new process that reused the pid
    (psutil compares the creation time)."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
        except psutil.AccessDenied:
            alive.append(proc)
    return alive


def kill_tree(proc: subprocess.Popen, grace_s: float, kill_argv: Callable[[int], list[str]] = taskkill_argv,
              settle_s: float = 2.0) -> KillState:
    """Note the tree, run the kill command on its leader, reap the leader, then check the whole
    tree is gone (waiting up to ``settle_s`` for the system to finish ending it)."""
    tree = process_tree(proc.pid)
    subprocess.run(kill_argv(proc.pid), capture_output=True)
    try:
        proc.wait(timeout=max(grace_s, settle_s))
    except subprocess.TimeoutExpired:
        return KillState.KILL_UNCONFIRMED
    end = time.monotonic() + settle_s
    while still_running(tree) and time.monotonic() < end:
        time.sleep(0.05)
    return KillState.KILL_UNCONFIRMED if still_running(tree) else KillState.KILLED
