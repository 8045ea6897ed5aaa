"""What the import dialogs (nodes from an inventory, jobs from Rundeck or Task Scheduler) share
besides their tables: one message line, a busy flag the buttons follow while work runs off the
GUI thread, and what an import leaves behind (the imported names are now existing ones)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QLabel

from .node_dialog import INFO_STYLE


class PreviewImportDialog(QDialog):
    imported = Signal(list)  # the names that were imported

    busy: bool
    message: QLabel
    existing: set[str]
    ticks: dict[str, bool]

    def _update_buttons(self) -> None:
        raise NotImplementedError

    def _fill(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _message_line() -> QLabel:
        """The dialog's one message line: hidden until something is said, selectable to copy."""
        line = QLabel()
        line.setWordWrap(True)
        line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line.hide()
        return line

    def _set_busy(self, busy: bool, message: str = "") -> None:
        self.busy = busy
        if message:
            self._show(message, INFO_STYLE)
        self._update_buttons()

    def _show(self, text: str, style: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)
        self.message.show()

    def _mark_imported(self, names: list[str]) -> None:
        self.existing |= set(names)
        for name in names:  # imported: now an existing name, unticked like the others
            self.ticks.pop(name, None)
        self._fill()
        self.imported.emit(names)
