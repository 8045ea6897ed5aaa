"""The palette Qt gives a Windows 11 app in dark mode (qwindowstheme's dark palette with the
default blue accent). LabDeck follows the system's colour scheme, so this is what a dark-mode
user sees; Xvfb and the offscreen platform have no scheme to switch, so the GUI tests and the
docs' screenshots set this palette on the application, which is what Qt does on a switch."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


def windows_dark_palette() -> QPalette:
    white, background, accent = QColor("#ffffff"), QColor("#1e1e1e"), QColor("#0078d4")
    button = background.lighter(200)
    roles = {"WindowText": white, "Text": white, "BrightText": QColor("#99ebff"), "Button": button,
             "ButtonText": white, "Light": button.lighter(200), "Midlight": button.lighter(150),
             "Dark": button.darker(200), "Mid": button.darker(150), "Shadow": QColor("#000000"),
             "Base": background.lighter(150), "Window": background, "Highlight": accent,
             "HighlightedText": white, "Link": QColor("#4cc2ff"), "LinkVisited": QColor("#003e92"),
             "AlternateBase": QColor("#262626"), "ToolTipBase": button, "ToolTipText": white.darker(120),
             "PlaceholderText": QColor("#a0a0a0")}
    palette = QPalette()
    for name, color in roles.items():
        palette.setColor(getattr(QPalette.ColorRole, name), color)
    for name in ("WindowText", "Text", "ButtonText"):
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, name), QColor("#7a7a7a"))
    return palette
