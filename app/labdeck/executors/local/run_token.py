"""Processes on this computer that escaped a step's process group (``setsid``, a double fork) but
still carry its run token (``LABDECK_RUN_TOKEN``) in the environment they started with: found by
reading /proc/PID/environ through psutil, as Jenkins' process-tree killer does, then ended.

Linux only (elsewhere psutil cannot read another process's environment cheaply, and Windows
steps are ended by their process tree). A process that cleared its environment (``env -i``) or
belongs to another user is not found."""

from __future__ import annotations

import os
import sys
import time

import psutil

from ..base import RUN_TOKEN_ENV


def carrying(token: str) -> list[psutil.Process]:
    """Processes (other than this one, and not zombies) whose environment holds the token."""
    if not token or not sys.platform.startswith("linux"):
        return []
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(RUN_TOKEN_ENV) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def kill_carrying(token: str, grace_s: float) -> tuple[int, bool]:
    """TERM, then KILL after ``grace_s``, every process carrying the token; (how many were found,
    whether any still runs)."""
    found = carrying(token)
    if not found:
        return 0, False
    for proc in found:
        _signal(proc, "terminate")
    _, alive = psutil.wait_procs(found, timeout=grace_s)
    for proc in alive:
        _signal(proc, "kill")
    _, alive = psutil.wait_procs(alive, timeout=2)
    end = time.monotonic() + 0.5
    while carrying(token) and time.monotonic() < end:  # a leftover that forked again meanwhile
        for proc in carrying(token):
            _signal(proc, "kill")
        time.sleep(0.05)
    return len(found), bool(alive or carrying(token))


def _signal(proc: psutil.Process, how: str) -> None:
    try:
        getattr(proc, how)()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
