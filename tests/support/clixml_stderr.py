"""Windows PowerShell 5.1's way of writing errors to a redirected stderr, for the WS-Management
test server's PowerShell stand-ins: ``#< CLIXML`` and an ``<Objs>`` document with one
``<S S="Error">`` per line (``_x000D__x000A_`` for the line end), closed when the process ends.

As a program (``python clixml_stderr.py CMD ARGS...``) it runs CMD with its stdout passed through
and its stderr written that way, and exits with CMD's exit code: a detached PowerShell step's
stand-in, whose stderr goes to the run folder's ``err`` file as on Windows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from xml.sax.saxutils import escape

CLIXML_HEADER = b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
CLIXML_END = b"</Objs>"
_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f]|_(?=x[0-9A-Fa-f]{4}_)")


def clixml_string(text: str) -> str:
    """A string as PowerShell's serializer writes it: XML-escaped, with control characters and
    an ``_`` that would read as an escape written as ``_xHHHH_``."""
    return _NEEDS_ESCAPE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", escape(text))


def clixml_error_line(line: bytes) -> bytes:
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    return f'<S S="Error">{clixml_string(text + chr(13) + chr(10))}</S>'.encode()


def main() -> int:
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def copy_stdout() -> None:
        for block in iter(lambda: child.stdout.read1(65536), b""):
            out.write(block)
            out.flush()

    copier = threading.Thread(target=copy_stdout)
    copier.start()
    started = False
    for line in child.stderr:
        err.write((b"" if started else CLIXML_HEADER) + clixml_error_line(line))
        err.flush()
        started = True
    if started:
        err.write(CLIXML_END)
        err.flush()
    copier.join()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
