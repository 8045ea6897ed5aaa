"""LogProgress: what a running node run has printed so far — lines, its last line and its
last ``::progress N`` value (core/progress.py) — read from its log file incrementally: each
call reads only the bytes added since the previous one, so following ten chatty nodes costs
a few small reads per second, never a re-read of a growing log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.progress import PROGRESS_LINE, last_progress

MAX_READ = 4 << 20        # per call and node run; a node that printed more is caught up on the next call
MAX_LAST_LINE = 300


@dataclass
class NodeProgress:
    lines: int = 0
    last_line: str = ""
    percent: float | None = None
    offset: int = 0
    partial: bytes = b""   # the unfinished line at the end of what was read


class LogProgress:
    def __init__(self):
        self._state: dict[str, NodeProgress] = {}   # by log path

    def read(self, log_path: str) -> NodeProgress:
        """The progress of this log so far (reading what was appended since the last call)."""
        state = self._state.setdefault(log_path, NodeProgress())
        if not log_path:
            return state
        try:
            with open(log_path, "rb") as f:
                f.seek(state.offset)
                data = f.read(MAX_READ)
        except OSError:
            return state
        if not data:
            return state
        state.offset += len(data)
        data = state.partial + data
        cut = data.rfind(b"\n")
        whole, state.partial = (data[:cut + 1], data[cut + 1:]) if cut >= 0 else (b"", data)
        if len(state.partial) > 64 * 1024:   # a very long unfinished line: count what it shows so far
            whole, state.partial = whole + state.partial, b""
        if whole:
            state.lines += whole.count(b"\n")
            if b"::progress" in whole or b"LABDECK_PROGRESS=" in whole:  # skip the regex for plain output
                percent = last_progress(whole)
                if percent is not None:
                    state.percent = percent
            lines = [ln for ln in whole[-4 * MAX_LAST_LINE:].splitlines()
                     if ln.strip() and not PROGRESS_LINE.match(ln)]   # the last line that says something
            if lines:
                state.last_line = lines[-1][:MAX_LAST_LINE].decode("utf-8", errors="replace").strip()
        return state

    def forget(self, keep: set[str]) -> None:
        for path in [p for p in self._state if p not in keep]:
            del self._state[path]


def progress_of(log_path: str | Path) -> NodeProgress:
    """A finished node run's progress in one read (its log read whole, in chunks)."""
    tracker = LogProgress()
    state = tracker.read(str(log_path))
    while True:
        before = state.offset
        state = tracker.read(str(log_path))
        if state.offset == before:
            return state
