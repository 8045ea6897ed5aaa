"""A full disk under the data folder: recognised, said in one sentence, and survived.

LabDeck keeps a small reserve file next to the catalog. When a write finds the disk full (a
log, or the catalog itself), the reserve is given back, every log of this data folder stops
with a final note, and the catalog still has room to record how the runs ended -- so nothing
stays "running" and the catalog stays consistent. The reserve is made again at the next start
once there is room. Every message about it says "the disk holding DIR is full"."""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

from ..core.errors import CatalogError

log = logging.getLogger(__name__)

RESERVE_NAME = ".labdeck-space-reserve"
RESERVE_BYTES = 256 * 1024  # a few hundred catalog transactions in the WAL, and the final log notes
LOW_SPACE_BYTES = 64 * 1024


class DiskFull(CatalogError):
    """The disk holding the data folder has no room left."""


def is_disk_full(exc: BaseException | None) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, DiskFull)


def disk_full_message(folder: Path) -> str:
    return f"the disk holding {folder} is full"


def looks_full(folder: Path) -> bool:
    """Whether the disk under ``folder`` has (next to) no room: explains SQLite's vaguer errors."""
    try:
        return shutil.disk_usage(folder).free < LOW_SPACE_BYTES
    except OSError:
        return False


class SpaceGuard:
    """One per catalog: the reserve file, and whether this process has found the disk full."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.reserve = self.folder / RESERVE_NAME
        self.full = threading.Event()
        self._lock = threading.Lock()

    @property
    def message(self) -> str:
        return disk_full_message(self.folder)

    def ensure_reserve(self) -> None:
        """Make the reserve if it is missing and the disk has room for it and some more."""
        if self.reserve.exists():
            return
        try:
            if shutil.disk_usage(self.folder).free < 4 * RESERVE_BYTES:
                return
            part = self.reserve.with_name(f"{RESERVE_NAME}.part-{os.getpid()}")
            with open(part, "wb") as f:
                f.write(os.urandom(RESERVE_BYTES))  # real blocks: zeros may be stored sparse or compressed
                f.flush()
                os.fsync(f.fileno())
            os.replace(part, self.reserve)
        except OSError as exc:
            log.info("no space reserve in %s: %s", self.folder, exc)
            try:
                part.unlink(missing_ok=True)
            except (OSError, UnboundLocalError):
                pass

    def hit(self) -> bool:
        """The disk was found full: give the reserve back (once) so the catalog can record the
        outcome; True if there was a reserve to give."""
        with self._lock:
            self.full.set()
            try:
                self.reserve.unlink()
                log.info("%s: released the space reserve", self.message)
                return True
            except FileNotFoundError:
                return False
            except OSError as exc:
                log.warning("%s; the space reserve could not be released: %s", self.message, exc)
                return False


def retry_once_when_full(method):
    """An outcome that must be recorded is tried again once after a full disk: the first failure
    gave the space reserve back."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DiskFull:
            return method(self, *args, **kwargs)
    return wrapper
