"""Settings page: where the data lives, tray notifications on/off, and the colour theme
(follows the system by default). Settings are kept in the catalog's settings table."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

NOTIFY_KEY = "gui.notifications"
THEME_KEY = "gui.theme"
THEMES = {"Follow the system": Qt.ColorScheme.Unknown, "Light": Qt.ColorScheme.Light, "Dark": Qt.ColorScheme.Dark}


def apply_theme(name: str) -> None:
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(THEMES.get(name, Qt.ColorScheme.Unknown))


class SettingsPage(QWidget):
    notificationsChanged = Signal(bool)

    def __init__(self, engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        catalog = engine.catalog
        folder = QLabel(f"<code>{engine.data_dir}</code>")
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_folder = QPushButton("Open folder")
        open_folder.setToolTip("Show the catalog and the logs in the file manager")
        open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(engine.data_dir))))
        row = QHBoxLayout()
        row.addWidget(folder, 1)
        row.addWidget(open_folder)

        self.notifications = QCheckBox("Notify me when a run fails (tray message)")
        self.notifications.setChecked(catalog.get_setting(NOTIFY_KEY, "1") == "1")
        self.notifications.toggled.connect(self._notify_toggled)

        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(catalog.get_setting(THEME_KEY, "Follow the system"))
        self.theme.currentTextChanged.connect(self._theme_changed)
        scheme = QGuiApplication.styleHints().colorScheme()
        self.theme_note = QLabel(f"The system currently prefers: {scheme.name.lower()}")
        self.theme_note.setStyleSheet("color: gray")

        form = QFormLayout()
        form.addRow("Data folder", row)
        form.addRow("Notifications", self.notifications)
        form.addRow("Theme", self.theme)
        form.addRow("", self.theme_note)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Settings</h2>"))
        layout.addLayout(form)
        layout.addStretch(1)

    def notifications_on(self) -> bool:
        return self.notifications.isChecked()

    def _notify_toggled(self, on: bool) -> None:
        self.engine.catalog.set_setting(NOTIFY_KEY, "1" if on else "0")
        self.notificationsChanged.emit(on)

    def _theme_changed(self, name: str) -> None:
        self.engine.catalog.set_setting(THEME_KEY, name)
        apply_theme(name)
