"""The one protocol every executor (local, ssh, winrm) implements, with its optional
capabilities declared (an executor without one says so by returning None), and its request/result types."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..core.option_values import ValueFile
from ..core.quoting import Shell
from ..core.status import KillState

if TYPE_CHECKING:  # detached_ops imports paramiko, which loads with the first SSH node
    from .detached_ops import DetachedOps

OutputSink = Callable[[str, bytes], None]
"""Called with ("stdout" | "stderr", bytes) as output arrives; must not block for long."""

POLL_S = 0.05
DEFAULT_KILL_GRACE_S = 3.0
BACKGROUND_GRACE_S = 2.0
"""After a step's shell exits, how long its output may stay open and quiet (a background child
holding it, ``./server & echo started``) before the step counts as done and those processes are
dealt with. Output still arriving (the end of a large output in flight) restarts the wait..."""
BACKGROUND_MAX_S = 60.0
"""...up to this long after the shell exited (a background child that prints without end)."""


class AfterExit:
    """Whether a step whose shell has exited, but whose output is still open, is done."""

    def __init__(self) -> None:
        self.exited_at: float | None = None
        self.last_output = 0.0

    def output(self) -> None:
        self.last_output = time.monotonic()

    def over(self) -> bool:
        now = time.monotonic()
        self.exited_at = self.exited_at or now
        return (now - max(self.exited_at, self.last_output) >= BACKGROUND_GRACE_S
                or now - self.exited_at >= BACKGROUND_MAX_S)
RUN_TOKEN_ENV = "LABDECK_RUN_TOKEN"
"""Set in every step's environment; a process that left the step's process group (``setsid``,
a double fork) still carries it in /proc/PID/environ, which is how a kill finds it on Linux."""


@dataclass
class ScriptFile:
    filename: str
    body: str
    interpreter: str = ""  # for .py: the node's Python setting ("" = python3 / python / found on the node)


@dataclass
class CommandRequest:
    """One step to run on a node. ``command`` is text for the node's shell; a ``script`` is
    uploaded as a file into the node run's folder and run from there."""
    command: str = ""
    script: ScriptFile | None = None
    env: dict[str, str] = field(default_factory=dict)
    # option values too large for the environment: each written into the run folder first, its
    # variable set to the file's full path on the node
    value_files: list[ValueFile] = field(default_factory=list)
    run_tag: str = "adhoc"          # names the per-node-run folder on the node
    run_token: str = ""             # also in env as LABDECK_RUN_TOKEN: finds escaped processes at a kill
    keep_background: bool = False   # once the step's shell exited: leave what still holds its output running
    kill_grace_s: float = DEFAULT_KILL_GRACE_S


@dataclass(frozen=True)
class LaunchLimits:
    """What a detached node run asks a batch scheduler for (zero or None: the scheduler's
    default); executors that run commands themselves ignore it."""
    cpus: float = 0
    memory_mb: int = 0
    gpus: int = 0
    timeout_s: float | None = None


class Ending(StrEnum):
    EXITED = "exited"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass
class ExecResult:
    ending: Ending
    exit_code: int | None = None
    kill_state: KillState | None = None
    pid: int | None = None
    leftovers: int = 0              # processes outside the group found (and killed) by the run token
    survivors: tuple[str, ...] = ()  # what a kill could not end ("sleep (pid 4242, user root)")
    note: str = ""                  # what the executor did that the log should say (background processes)


@dataclass
class Deadline:
    """A wall-clock deadline kept by the engine (library timeouts are not trusted)."""
    at: float | None = None  # time.monotonic() value

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if not seconds else time.monotonic() + seconds)

    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


def background_note(exit_code: int | None, kept: bool, kill_state: KillState | None, leftovers: int = 0) -> str:
    what = f"the step's shell exited ({exit_code}) while processes it started still held its output"
    if kept:
        return f"{what}; they were left running, as the job says (policy background: keep)"
    done = "killed" if kill_state is KillState.KILLED else "kill unconfirmed"
    extra = f", with {leftovers} found by the run token" if leftovers else ""
    return (f"{what}; once it had been quiet for {BACKGROUND_GRACE_S:g} s they were {done}{extra} "
            "(policy background: keep leaves them)")


def stop_reason(deadline: Deadline, cancel: threading.Event) -> Ending | None:
    if cancel.is_set():
        return Ending.CANCELLED
    if deadline.expired():
        return Ending.TIMED_OUT
    return None


class Executor(Protocol):
    shell: Shell

    def run(self, request: CommandRequest, sink: OutputSink, deadline: Deadline,
            cancel: threading.Event) -> ExecResult:
        """Run to the end, the deadline or the cancel event; a stop kills the whole process
        tree and verifies it. Raises NodeUnreachable if the node cannot be reached or drops."""

    def upload(self, local: Path, remote: str) -> None: ...

    def download(self, remote: str, local: Path) -> None: ...

    def probe(self) -> dict:
        """OS family, CPUs, memory and disk of the node."""

    def detached_ops(self) -> DetachedOps | None:
        """Launching, following and killing detached runs on this node; None when its runs
        stay attached (this computer on Windows)."""

    def remove_run_folder(self, run_tag: str) -> bool:
        """Remove the folder a finished attached node run's scripts were uploaded to; False when
        this executor leaves it to the clean-up of old run folders instead."""

    def kill_leftovers(self, token: str, grace_s: float) -> tuple[int, KillState] | None:
        """End every process on the node that carries this run token (a step whose LabDeck
        process was killed): (how many were found, killed or kill unconfirmed); None where
        processes cannot be found by it (Windows nodes)."""

    def close(self) -> None: ...
