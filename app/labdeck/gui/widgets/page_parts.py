"""Parts every page is built from: a row of tool buttons, and a read-only table of records."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QHeaderView, QPushButton, QTableWidget


def add_buttons(bar: QHBoxLayout, specs: Iterable[tuple[str, str, str, Callable]]) -> dict[str, QPushButton]:
    """One button per (key, text, tooltip, slot), added to ``bar`` in order; returned by key."""
    buttons = {}
    for key, text, tip, slot in specs:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        buttons[key] = button
        bar.addWidget(button)
    return buttons


def read_only_table(columns: list[str], alternating: bool = True) -> QTableWidget:
    """Whole rows selected one at a time, nothing editable, columns sized to their contents."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setShowGrid(False)
    table.setAlternatingRowColors(alternating)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


ALL_PROJECTS = "All projects"


def fill_project_combo(combo, names: list[str]) -> None:
    """A project filter: "All projects" then the names; the choice survives a refill, and a
    refill with the same items changes nothing (no signal)."""
    items = [ALL_PROJECTS] + list(names)
    if [combo.itemText(i) for i in range(combo.count())] == items:
        return
    current = combo.currentText() or ALL_PROJECTS
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    combo.setCurrentText(current if current in items else ALL_PROJECTS)
    combo.blockSignals(False)


def project_filter(combo) -> str | None:
    text = combo.currentText()
    return None if text in ("", ALL_PROJECTS) else text
