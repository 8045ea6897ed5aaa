"""LabDeck's own log files (the app's ``labdeck.log``, the engine's ``engine.log``): rotated at a
size, and still written when the rotation cannot happen.

On Windows a file cannot be renamed while another program has it open without delete sharing
(a log viewer, an editor, a virus scanner), so the rotation's rename fails. The standard handler
then drops the record with a traceback on a console the windowed app does not have, and tries
(and fails) again on every record after it. Here a failed rotation is noted once, writing goes
on in the current file, and the rotation is tried again only after another ``maxBytes``.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TolerantRotatingFileHandler(logging.handlers.RotatingFileHandler):
    def __init__(self, filename, maxBytes: int = 2**20, backupCount: int = 2, **kwargs):
        super().__init__(filename, maxBytes=maxBytes, backupCount=backupCount, encoding="utf-8", delay=True,
                         **kwargs)
        self._retry_at = 0  # a file size below which a failed rotation is not tried again
        self.rotation_failures = 0

    def shouldRollover(self, record) -> bool:
        if not super().shouldRollover(record):
            return False
        return self.stream is None or self.stream.tell() >= self._retry_at

    def doRollover(self) -> None:
        try:
            super().doRollover()
            self._retry_at = 0
        except OSError as exc:
            self.rotation_failures += 1
            if self.stream is None:
                self.stream = self._open()  # go on writing in the current file
            self.stream.seek(0, 2)
            self._retry_at = self.stream.tell() + self.maxBytes
            self.stream.write(f"(this log could not be rotated: {exc}; another program may have it open. "
                              f"Writing continues here.){self.terminator}")


def add_file_log(path: Path, level: int = logging.WARNING) -> TolerantRotatingFileHandler:
    """Records at ``level`` and above also go to ``path``; uncaught exceptions too."""
    handler = TolerantRotatingFileHandler(path)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        logging.getLogger("labdeck").error("uncaught exception", exc_info=(kind, value, tb))
        if sys.stderr is not None:
            previous(kind, value, tb)

    sys.excepthook = excepthook
    return handler
