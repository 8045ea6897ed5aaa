"""The progress convention: a step reports how far it is by printing a line

    ::progress 42          (or ::progress 42%, ::progress 41.5)
    LABDECK_PROGRESS=42    (the same, as an environment-style line)

anywhere in its output (stdout or stderr); the last such line counts. LabDeck shows it as
the node's percentage in the run view; the lines stay in the log like any other output."""

from __future__ import annotations

import re

PROGRESS_LINE = re.compile(rb"^[ \t]*(?:::progress[ \t]+|LABDECK_PROGRESS=)(\d{1,3}(?:\.\d+)?)[ \t]*%?[ \t]*\r?$",
                           re.MULTILINE)


def last_progress(data: bytes) -> float | None:
    """The percentage of the last progress line in ``data`` (whole lines), clamped to 0-100."""
    value = None
    for match in PROGRESS_LINE.finditer(data):
        value = match.group(1)
    return None if value is None else max(0.0, min(100.0, float(value)))


class TextProgress:
    """The same three facts (lines, last line, last progress value) kept from a node run's
    output text as it streams, without reading its log file again."""

    __slots__ = ("lines", "last_line", "percent", "_partial")

    def __init__(self):
        self.lines = 0
        self.last_line = ""
        self.percent: float | None = None
        self._partial = ""

    def feed(self, text: str) -> None:
        cut = text.rfind("\n")
        if cut < 0:
            self._partial = (self._partial + text)[-4096:]
            return
        self.lines += text.count("\n")
        head = self._partial + text[:cut + 1] if self._partial else text[:cut + 1]
        self._partial = text[cut + 1:][-4096:]
        if "::progress" in head or "LABDECK_PROGRESS=" in head:
            percent = last_progress(head.encode("utf-8", errors="replace"))
            if percent is not None:
                self.percent = percent
        tail = head[-1200:].splitlines()
        for line in reversed(tail):
            if line.strip() and not PROGRESS_LINE.match(line.encode("utf-8", errors="replace")):
                self.last_line = line.strip()[:300]
                break

    def snapshot(self) -> tuple[int, str, float | None]:
        return self.lines, self.last_line, self.percent
