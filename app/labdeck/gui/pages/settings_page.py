"""Settings page: where the data lives (data folder, catalog, run logs, the app's own log, each
with an "Open folder" button), tray notifications on/off, and the colour theme (follows the
system by default). Settings are kept in the catalog's settings table."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from ...store import paths
from ..open_external import open_path
from ...engine.api import EngineApi

NOTIFY_KEY = "gui.notifications"
THEME_KEY = "gui.theme"
THEMES = {"Follow the system": Qt.ColorScheme.Unknown, "Light": Qt.ColorScheme.Light, "Dark": Qt.ColorScheme.Dark}


def apply_theme(name: str) -> None:
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(THEMES.get(name, Qt.ColorScheme.Unknown))


class SettingsPage(QWidget):
    notificationsChanged = Signal(bool)

    def __init__(self, engine: EngineApi, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        catalog = engine.catalog
        data_dir = Path(engine.data_dir)
        self.locations = {  # label -> (the path shown, the folder its "Open folder" button opens, if it has one)
            "Data folder": (data_dir, data_dir),
            "Catalog": (paths.catalog_path(data_dir), None),
            "Run logs": (paths.logs_dir(data_dir), paths.logs_dir(data_dir)),
            "App log": (paths.app_log_path(data_dir), None),
        }
        self.open_buttons: dict[str, QPushButton] = {}
        self.open_note = QLabel()
        self.open_note.setStyleSheet("color: #b71c1c")
        self.open_note.setWordWrap(True)
        self.open_note.hide()

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
        for name, (path, folder) in self.locations.items():
            form.addRow(name, self._location_row(name, path, folder))
        form.addRow("", self.open_note)
        form.addRow("Notifications", self.notifications)
        form.addRow("Theme", self.theme)
        form.addRow("", self.theme_note)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Settings</h2>"))
        layout.addLayout(form)
        layout.addStretch(1)

    def _location_row(self, name: str, path: Path, folder: Path | None) -> QHBoxLayout:
        label = QLabel(f"<code>{html.escape(str(path))}</code>")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(label, 1)
        if folder is not None:
            button = QPushButton("Open folder")
            button.setToolTip(f"Show {folder} in the file manager")
            button.clicked.connect(lambda: self.open_folder(folder))
            self.open_buttons[name] = button
            row.addWidget(button)
        return row

    def open_folder(self, folder: Path) -> bool:
        folder.mkdir(parents=True, exist_ok=True)  # the run logs folder appears with the first run
        self.launcher_box = open_path(self, folder, "folders")
        opened = self.launcher_box is None
        self.open_note.setVisible(not opened)
        if not opened:
            self.open_note.setText(f"No file manager could be started to show {folder}; open it yourself "
                                   "(the path above can be selected and copied).")
        return opened

    def notifications_on(self) -> bool:
        return self.notifications.isChecked()

    def _notify_toggled(self, on: bool) -> None:
        self.engine.catalog.set_setting(NOTIFY_KEY, "1" if on else "0")
        self.notificationsChanged.emit(on)

    def _theme_changed(self, name: str) -> None:
        self.engine.catalog.set_setting(THEME_KEY, name)
        apply_theme(name)
