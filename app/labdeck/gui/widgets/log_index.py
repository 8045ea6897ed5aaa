"""LineIndex: random access to the lines of a huge, growing log file without loading it.

A background thread counts newlines per 64 KiB block (``bytes.count`` — C speed, a 1 GiB
file takes about a second) and keeps only one integer per block: 16 K integers for 1 GiB.
Line ``k`` is found by bisecting those counts and reading one block with ``seek``; decoded
blocks sit in a small LRU cache. The thread keeps polling the file for growth (tail -f)
and starts over if the file is truncated. Searching scans the file in chunks on the
caller's (worker) thread. Nothing here touches Qt.
"""

from __future__ import annotations

import os
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from pathlib import Path

BLOCK = 1 << 16
CHUNK = 1 << 22          # bytes read per step while indexing or searching
MAX_LINE = 1 << 14       # longer lines are shown cut, with an ellipsis
CACHE_BLOCKS = 96


class LineIndex:
    def __init__(self, path: str | Path, poll_s: float = 0.2):
        self.path = Path(path)
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reset_state()
        self._cache: OrderedDict[int, tuple[int, list[str]]] = OrderedDict()
        self._reader = None
        self._thread = threading.Thread(target=self._run, name=f"log-index {self.path.name}", daemon=True)
        self._thread.start()

    def _reset_state(self) -> None:
        self._cum = array("q", [0])   # _cum[i] = newlines in [0, i * BLOCK) for every full block scanned
        self._tail_newlines = 0       # newlines after the last full block, up to _scanned
        self._scanned = 0
        self._last_is_newline = True
        self._at_eof = False
        self._generation = getattr(self, "_generation", 0) + 1

    # ---- background indexing ------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def wake(self) -> None:
        """Look for new bytes now (called when output is known to have arrived)."""
        self._wake.set()

    def _run(self) -> None:
        f = None
        try:
            while not self._stop.is_set():
                if f is None:
                    try:
                        f = open(self.path, "rb")
                    except OSError:
                        self._sleep()
                        continue
                size = os.fstat(f.fileno()).st_size
                if size < self._scanned:
                    with self._lock:
                        self._reset_state()
                        self._cache.clear()
                if size > self._scanned or not self._at_eof:
                    self._scan_step(f, size)
                else:
                    self._sleep()
        finally:
            if f is not None:
                f.close()

    def _sleep(self) -> None:
        self._wake.wait(self.poll_s)
        self._wake.clear()

    def _scan_step(self, f, size: int) -> None:
        full_end = (len(self._cum) - 1) * BLOCK
        f.seek(full_end)
        data = f.read(min(CHUNK, max(0, size - full_end)))
        full = len(data) // BLOCK
        counts = array("q")
        total = self._cum[-1]
        for b in range(full):
            total += data.count(b"\n", b * BLOCK, (b + 1) * BLOCK)
            counts.append(total)
        tail = data.count(b"\n", full * BLOCK)
        scanned = full_end + len(data)
        with self._lock:
            self._cum.extend(counts)
            self._tail_newlines = tail
            self._scanned = scanned
            if data:
                self._last_is_newline = data.endswith(b"\n")
            self._at_eof = scanned >= size

    # ---- state ------------------------------------------------------------------------------------

    @property
    def indexing(self) -> bool:
        return not self._at_eof

    def rows(self) -> int:
        """Lines known so far; a last line without its newline counts once the scan reached the end."""
        with self._lock:
            n = self._cum[-1] + self._tail_newlines
            if self._at_eof and self._scanned > 0 and not self._last_is_newline:
                n += 1
            return n

    # ---- reading lines (GUI thread; small seeks and reads only) -------------------------------------

    def _file(self):
        if self._reader is None:
            self._reader = open(self.path, "rb")
        return self._reader

    def line(self, k: int) -> str:
        block = self._block_of_line(k)
        first, lines = self._block_lines(block)
        i = k - first
        return lines[i] if 0 <= i < len(lines) else ""

    def lines(self, start: int, count: int) -> list[str]:
        """Lines ``start`` .. ``start + count - 1``, reading each block once (a paint asks for all
        the visible lines at once: one read of the growing tail block, not one per line)."""
        out: list[str] = []
        k, end = start, start + count
        while k < end:
            first, lines = self._block_lines(self._block_of_line(k))
            i = k - first
            if not 0 <= i < len(lines):
                out.append("")
                k += 1
                continue
            take = min(end - k, len(lines) - i)
            out.extend(lines[i:i + take])
            k += take
        return out

    def _block_of_line(self, k: int) -> int:
        if k <= 0:
            return 0
        with self._lock:
            return bisect_left(self._cum, k) - 1

    def _block_lines(self, block: int) -> tuple[int, list[str]]:
        cached = self._cache.get(block)
        if cached is not None:
            self._cache.move_to_end(block)
            return cached
        with self._lock:
            first = 0 if block == 0 else self._cum[block] + 1 if block < len(self._cum) else self._cum[-1] + 1
            complete = block + 1 < len(self._cum)
            generation = self._generation
        f = self._file()
        f.seek(block * BLOCK)
        data = f.read(BLOCK)
        parts = data.split(b"\n")
        if block > 0:
            parts = parts[1:]
        terminated = True
        if parts:
            rest, terminated = self._continue_line(f, block * BLOCK + len(data), len(parts[-1]))
            parts[-1] += rest
        lines = [_decode(p) for p in parts]
        result = (first, lines)
        if complete and terminated and generation == self._generation:
            self._cache[block] = result
            if len(self._cache) > CACHE_BLOCKS:
                self._cache.popitem(last=False)
        return result

    @staticmethod
    def _continue_line(f, offset: int, have: int) -> tuple[bytes, bool]:
        """The rest of a line that runs past its block; (bytes, whether its newline was found)."""
        out = bytearray()
        f.seek(offset)
        while have + len(out) < MAX_LINE:
            chunk = f.read(BLOCK)
            if not chunk:
                return bytes(out), False
            cut = chunk.find(b"\n")
            if cut >= 0:
                out += chunk[:cut]
                return bytes(out), True
            out += chunk
        return bytes(out), True

    # ---- offsets (worker threads; used by search) ---------------------------------------------------

    def offset_of_line(self, k: int) -> int:
        """Byte offset where line ``k`` starts."""
        if k <= 0:
            return 0
        block = self._block_of_line(k)
        with self._lock:
            before = self._cum[block] if block < len(self._cum) else self._cum[-1]
        with open(self.path, "rb") as f:
            f.seek(block * BLOCK)
            pos, need = block * BLOCK, k - before
            while True:
                data = f.read(CHUNK)
                if not data:
                    return pos
                at = -1
                for _ in range(need):
                    at = data.find(b"\n", at + 1)
                    if at < 0:
                        break
                if at >= 0:
                    return pos + at + 1
                need -= data.count(b"\n")
                pos += len(data)

    def line_of_offset(self, offset: int) -> int:
        """Number of the line holding byte ``offset``."""
        block = offset // BLOCK
        with self._lock:
            block = min(block, len(self._cum) - 1)
            before = self._cum[block]
        with open(self.path, "rb") as f:
            f.seek(block * BLOCK)
            remaining, count = offset - block * BLOCK, before
            while remaining > 0:
                data = f.read(min(CHUNK, remaining))
                if not data:
                    break
                count += data.count(b"\n")
                remaining -= len(data)
        return count

    def search(self, needle: str, start: int, forward: bool = True, case: bool = False,
               cancelled=lambda: False) -> int | None:
        """Byte offset of the next match at or after ``start`` (forward) or before it (backward)."""
        pattern = needle.encode("utf-8")
        if not pattern:
            return None
        if not case:
            pattern = pattern.lower()
        overlap = len(pattern) - 1
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if forward:
                pos = max(0, start)
                while pos < size and not cancelled():
                    f.seek(pos)
                    data = f.read(CHUNK + overlap)
                    hit = (data if case else data.lower()).find(pattern)
                    if hit >= 0:
                        return pos + hit
                    pos += CHUNK
                return None
            end = min(start, size)
            while end > 0 and not cancelled():
                begin = max(0, end - CHUNK)
                f.seek(begin)
                data = f.read(end - begin + overlap)[: end - begin + overlap]
                hit = (data if case else data.lower()).rfind(pattern, 0, end - begin + len(pattern) - 1)
                if hit >= 0 and begin + hit < end:
                    return begin + hit
                end = begin
            return None


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_LINE:
        raw = raw[:MAX_LINE]
        return raw.decode("utf-8", "replace").rstrip("\r") + " …"
    return raw.decode("utf-8", "replace").rstrip("\r")
