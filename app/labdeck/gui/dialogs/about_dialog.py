"""Help > About: LabDeck's version, what it runs on (Python, Qt, source or installed build)
and where its data is, with a button that copies those details for a bug report."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ... import __version__
from ..icons import app_icon


def build_details(data_dir: Path | None = None) -> dict[str, str]:
    """What a bug report needs to know about this LabDeck, as label -> text."""
    frozen = getattr(sys, "frozen", False)
    details = {
        "Version": __version__,
        "Build": f"installed application ({Path(sys.executable).parent})" if frozen
        else f"from source ({Path(__file__).resolve().parents[2]})",
        "Python": platform.python_version(),
        "Qt": f"{qVersion()} (PySide6 {PySide6.__version__})",
        "System": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }
    if data_dir is not None:
        details["Data folder"] = str(data_dir)
    return details


class AboutDialog(QDialog):
    def __init__(self, data_dir: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About LabDeck")
        self.details = build_details(data_dir)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel(f"<h2>LabDeck {__version__}</h2>"
                       "<p>Run and watch batch jobs across a small lab of Windows and Linux machines.</p>")
        title.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(title, 1)
        form = QFormLayout()
        self.value_labels: dict[str, QLabel] = {}
        for name, value in self.details.items():
            label = QLabel(value)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.value_labels[name] = label
            form.addRow(name, label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip("Copy these details to the clipboard, for a bug report")
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def details_text(self) -> str:
        return "\n".join(["LabDeck", *(f"{name}: {value}" for name, value in self.details.items())])

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
