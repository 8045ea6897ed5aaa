"""CatalogWatcher: notices changes another process made to the catalog (``labdeck job add``
beside the open window, an engine process, a second LabDeck) by polling SQLite's
``PRAGMA data_version`` — one tiny query, no file read — and ticks now and then so relative
times ("2 min ago") move on while nothing else happens."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal


class CatalogWatcher(QObject):
    changed = Signal()   # another connection committed since the last poll
    tick = Signal()      # every ``tick_ms``: refresh what shows relative times

    def __init__(self, catalog, parent: QObject | None = None, poll_ms: int = 1000, tick_ms: int = 30_000):
        super().__init__(parent)
        self.catalog = catalog
        self._version = self._read()
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self.poll)
        self._poll.start()
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self.tick)
        self._tick.start()

    def _read(self) -> int | None:
        try:
            return self.catalog.data_version()
        except Exception:  # a closed catalog (shutting down): nothing to watch
            return None

    def poll(self) -> bool:
        version = self._read()
        if version is None or version == self._version:
            return False
        self._version = version
        self.changed.emit()
        return True

    def stop(self) -> None:
        self._poll.stop()
        self._tick.stop()
