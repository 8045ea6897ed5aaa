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
