"""Windows PowerShell's CLIXML error stream as plain text.

Windows PowerShell 5.1 started with ``-EncodedCommand``, non-interactive and with its stderr
redirected (as every LabDeck helper and job-step launcher is), writes its errors to stderr as
serialized objects, not text: a line ``#< CLIXML`` and then an ``<Objs Version="1.1.0.1"
xmlns="http://schemas.microsoft.com/powershell/2004/04">`` document whose ``<S S="Error">``
strings are the lines of the error messages, with characters XML cannot carry written as
``_xHHHH_`` (``_x000D__x000A_`` for a line end). ``-OutputFormat Text`` does not change that;
PowerShell 7 does. Other records (``<Obj S="progress">``, ``S="Warning"``, ``S="Verbose"``...)
are dropped except warnings, which keep their text.

``ClixmlDecoder`` takes stderr in chunks as they arrive (a Receive can end anywhere, inside a
tag or an escape) and returns the text that is complete so far; bytes outside a CLIXML document
(what a native child process or ``[Console]::Error`` writes) pass through unchanged.

The XML comes from the node, so it is parsed as hostile: expat (no external entities are ever
fetched) with any ``<!DOCTYPE`` refused outright, so no entity can be declared or expanded; a
document that does not parse is shown as it came, minus nothing.
"""

from __future__ import annotations

import re
import xml.parsers.expat

MARKER = b"#< CLIXML"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_SHOWN = {"Error": "", "Warning": "WARNING: "}


def unescape(text: str) -> str:
    """PowerShell's ``_xHHHH_`` escapes as the characters they stand for."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class _Refused(Exception):
    pass


class _Document:
    """One ``<Objs>`` document being parsed incrementally."""

    def __init__(self):
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self._refuse
        self.parser.EntityDeclHandler = self._refuse
        self.parser.ExternalEntityRefHandler = self._refuse
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._data
        self.depth = 0
        self.stream: str | None = None  # the S attribute of the <S> being read
        self.text: list[str] = []
        self.out: list[str] = []
        self.end_at: int | None = None  # byte index (in all bytes fed) just after </Objs>
        self.raw = bytearray()

    def _refuse(self, *_args):
        raise _Refused

    def _start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        if name == "S" and self.depth == 2:
            self.stream, self.text = attrs.get("S"), []

    def _data(self, data: str) -> None:
        if self.stream is not None:
            self.text.append(data)

    def _end(self, name: str) -> None:
        if self.stream is not None and name == "S" and self.depth == 2:
            if self.stream in _SHOWN:
                self.out.append(_SHOWN[self.stream] + unescape("".join(self.text)))
            self.stream = None
        self.depth -= 1
        if self.depth == 0:
            self.end_at = self.parser.CurrentByteIndex + len(name) + 3

    def feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; the bytes after the document's end once it has ended, else None."""
        self.raw += data
        try:
            self.parser.Parse(data, False)
        except xml.parsers.expat.ExpatError:
            if self.end_at is None:
                raise
        return None if self.end_at is None else bytes(self.raw[self.end_at:])

    def take(self) -> str:
        text, self.out = "".join(self.out), []
        return text


class ClixmlDecoder:
    """stderr of powershell.exe, fed in chunks, as text (see the module doc)."""

    def __init__(self):
        self._pending = b""       # bytes that may be the start of the marker line
        self._doc: _Document | None = None
        self._header = True       # inside a document: still skipping the marker line's end

    def feed(self, data: bytes) -> bytes:
        """The decoded text (UTF-8) that is complete after ``data``."""
        out = bytearray()
        data = self._pending + data
        self._pending = b""
        while data:
            if self._doc is None:
                at = data.find(MARKER)
                if at < 0:
                    keep = _partial_marker(data)
                    out += data[:len(data) - keep]
                    self._pending = data[len(data) - keep:]
                    break
                out += data[:at]
                data = data[at + len(MARKER):]
                self._doc, self._header = _Document(), True
            if self._header:
                data = data.lstrip(b"\r\n")
                if not data:
                    break
                self._header = False
            doc = self._doc
            try:
                rest = doc.feed(data)
            except (xml.parsers.expat.ExpatError, _Refused):
                out += doc.take().encode() + MARKER + b"\r\n" + bytes(doc.raw)  # not CLIXML after all: as it came
                self._doc = None
                break
            out += doc.take().encode()
            if rest is None:
                break
            self._doc = None
            data = rest.lstrip(b"\r\n") if rest.startswith(b"\r\n") else rest
        return bytes(out)

    def close(self) -> bytes:
        """What is left at the end of the stream (an unfinished document as it came)."""
        out = self._pending
        self._pending = b""
        if self._doc is not None:  # cut off (the process was killed): the errors read so far
            out += self._doc.take().encode()
            self._doc = None
        return out


def _partial_marker(data: bytes) -> int:
    """How many bytes at the end of ``data`` could be the start of the marker."""
    for n in range(min(len(MARKER) - 1, len(data)), 0, -1):
        if MARKER.startswith(data[-n:]):
            return n
    return 0


def decode_stderr(data: bytes | str) -> str:
    """A whole stderr of powershell.exe as text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    decoder = ClixmlDecoder()
    return (decoder.feed(data) + decoder.close()).decode("utf-8", "replace")
