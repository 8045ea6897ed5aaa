"""EmptyState: what a page says while it has nothing to show — a heading, a sentence on what
to do, and the buttons that do it ("Add your first node", "Run the sample job")."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout


class EmptyState(QFrame):
    def __init__(self, heading: str, text: str, actions: list[tuple[str, Callable[[], object]]], parent=None):
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setStyleSheet("#emptyState { border: 1px dashed palette(mid); border-radius: 6px; }")
        self.heading = QLabel(f"<b style='font-size:12pt'>{heading}</b>")
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for label, slot in actions:
            button = QPushButton(label)
            button.clicked.connect(slot)
            self.buttons[label] = button
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        layout.addLayout(row)
