"""Open a file or folder with the system's program for it; when the system has none (a bare
Linux desktop, a remote session), say so and offer to copy the path instead of doing nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget


def open_path(parent: QWidget | None, path: str | Path, what: str = "it") -> QMessageBox | None:
    """Opens ``path``; returns None when that worked, else the (non-blocking) box that explains
    and has a "Copy path" button."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return None
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle("No program to open it")
    box.setText(f"This computer has no program set up to open {what}.")
    box.setInformativeText(f"Copy the path and open it yourself:\n{path}")
    copy = box.addButton("Copy path", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Close)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(path)))
    box.copy_button = copy
    box.finished.connect(box.deleteLater)
    box.open()
    return box
