"""Per-node-run log files: output appended as it arrives, decoded with replacement of bad
bytes, and secrets masked before anything reaches the disk."""

from __future__ import annotations

import codecs
import errno
import threading
from pathlib import Path

MASK = "********"
MAX_HELD_LINE = 64 * 1024  # a longer unfinished line is written without waiting for its end


class SecretMasker:
    """Replaces known secrets in a text stream, even when a secret is split across chunks.

    The tail of the buffer that could be the start of a secret is held back until the next
    chunk (or ``flush``) decides it.
    """

    def __init__(self, secrets: list[str]):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)
        self._held = ""

    def feed(self, text: str) -> str:
        if not self._secrets:
            return text
        buf = self._mask(self._held + text)
        keep = 0
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(buf)), keep, -1):
                if buf.endswith(secret[:n]):
                    keep = n
                    break
        self._held = buf[len(buf) - keep:] if keep else ""
        return buf[:len(buf) - keep] if keep else buf

    def flush(self) -> str:
        rest, self._held = self._mask(self._held), ""
        return rest

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class LogWriter:
    """Appends one node run's output to its log file. Thread-safe: stdout and stderr chunks may
    arrive from different threads. ``on_text`` sees exactly the text meant for the file.

    Each stream's unfinished line is held until its end (``\n`` or ``\r``) arrives, so a stdout
    line is never split by stderr text written in between; a line longer than MAX_HELD_LINE
    is written without waiting for its end.

    It never raises on a failed write (a full disk): the first error is kept in ``error``,
    later text is no longer written, and the caller decides what to do about the command.
    With a ``space`` guard (disk_space.py) a full disk gives back the data folder's reserve, ends
    the log with a note saying so, and stops every other log of the folder the same way. The file
    is written unbuffered, so nothing half-written waits in a buffer to eat that reserve."""

    def __init__(self, path: Path, encoding: str = "utf-8", secrets: list[str] | None = None, on_text=None,
                 space=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)
        self._space = space
        self._decoders = {name: codecs.getincrementaldecoder(_codec(encoding))(errors="replace")
                          for name in ("stdout", "stderr")}
        self._masker = SecretMasker(secrets or [])
        self._on_text = on_text
        self._lock = threading.Lock()
        self.bytes_in = 0
        self.error: OSError | None = None
        self._held = {name: "" for name in self._decoders}  # each stream's unfinished line
        self._at_line_start = True

    def write(self, stream: str, data: bytes) -> None:
        with self._lock:
            self.bytes_in += len(data)
            text = self._held[stream] + self._decoders[stream].decode(data)
            end = max(text.rfind("\n"), text.rfind("\r")) + 1
            if not end and len(text) > MAX_HELD_LINE:
                end = len(text)
            self._held[stream] = text[end:]
            self._emit(self._masker.feed(text[:end]))

    def note(self, text: str) -> None:
        """A line from LabDeck itself (a kill, a retry), marked so it is not taken for output."""
        with self._lock:
            self._emit(self._masker.feed(("" if self._at_line_start else "\n") + f"[labdeck] {text}\n"))

    def close(self) -> None:
        with self._lock:
            if self._file.closed:
                return
            tail = "".join(self._held[name] + decoder.decode(b"", final=True)
                           for name, decoder in self._decoders.items())
            self._emit(self._masker.feed(tail) + self._masker.flush())
            try:
                self._file.close()
            except OSError as exc:
                self.error = self.error or exc

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._at_line_start = text.endswith(("\n", "\r"))
        if self.error is None and self._space is not None and self._space.full.is_set():
            self._stop_for_full_disk(OSError(errno.ENOSPC, self._space.message))
        if self.error is None:
            try:
                _write_all(self._file, text.encode("utf-8"))
            except OSError as exc:
                if self._space is not None and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    self._space.hit()
                    self._stop_for_full_disk(exc)
                else:
                    self.error = exc
        if self._on_text is not None:
            self._on_text(text)

    def _stop_for_full_disk(self, exc: OSError) -> None:
        self.error = exc
        try:
            _write_all(self._file, f"\n[labdeck] {self._space.message}: the log stops here\n".encode())
        except OSError:
            pass


def _write_all(file, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError(errno.ENOSPC, "no room left for the log")
        view = view[written:]


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return "utf-8"


def read_from(path: Path, offset: int, limit: int = 1 << 20) -> tuple[str, int]:
    """Up to ``limit`` bytes of a log from ``offset``; returns the text and the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:
        return "", offset
    return data.decode("utf-8", errors="replace"), offset + len(data)
