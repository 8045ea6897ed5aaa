"""One LabDeck app per data folder, decided before anything else starts.

The lock (a QLockFile in the data folder; Qt clears it when the process that held it is gone) is
taken first, before the engine child and the window: two quick double-clicks, or the autostart
plus a click, cannot both get through. The one that loses asks the first, through its
QLocalServer, to bring its window to the front, and exits. On Windows it first lets the first
instance take the foreground (AllowSetForegroundWindow): Windows gives that right only to the
process the user just started, which is the second one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QLockFile

LOCK_NAME = "labdeck-app.lock"
ASFW_ANY = 0xFFFFFFFF


def take_instance_lock(data_dir: Path) -> QLockFile | None:
    """The app's lock on ``data_dir`` (keep it for the app's lifetime), or None if another app has it."""
    lock = QLockFile(str(data_dir / LOCK_NAME))
    lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
    return lock if lock.tryLock(0) else None


def allow_foreground() -> bool:
    """Let the first instance bring its window to the front (Windows only; elsewhere nothing to do)."""
    if sys.platform != "win32":
        return False
    import ctypes
    return bool(ctypes.windll.user32.AllowSetForegroundWindow(ASFW_ANY))


def ask_first_instance(ask, name: str, within_s: float = 15.0) -> bool:
    """Ask the instance holding the lock to raise its window, retrying while it is still starting
    (it listens right after taking the lock, so this is normally at once)."""
    allow_foreground()
    end = time.monotonic() + within_s
    while True:
        if ask(name, 300):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)
