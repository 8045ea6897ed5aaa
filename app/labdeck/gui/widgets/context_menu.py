"""Right-click menus for the pages' tables: the row under the mouse is selected first (unless
it is already part of the selection), then a menu of what can be done to it — mostly the
page's own tool buttons, so the menu and the buttons can never disagree."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QMenu, QPushButton

Entry = tuple[str, Callable[[], object], bool] | None   # (text, action, enabled), or None: a separator


def button_entries(buttons: dict[str, QPushButton], keys: list[str]) -> list[Entry]:
    """The tool buttons ``keys`` as menu entries, enabled as the buttons are now."""
    return [(buttons[k].text(), buttons[k].click, buttons[k].isEnabled()) for k in keys]


def build_menu(view: QAbstractItemView, entries: list[Entry]) -> QMenu:
    menu = QMenu(view)
    for entry in entries:
        if entry is None:
            menu.addSeparator()
            continue
        text, action, enabled = entry
        menu.addAction(text, action).setEnabled(enabled)
    return menu


def install_menu(view: QAbstractItemView, entries: Callable[[], list[Entry]]) -> None:
    """Right-click on ``view`` opens the menu ``entries()`` describes (kept as ``view.context_menu``)."""
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def show(pos) -> None:
        index = view.indexAt(pos)
        selection = view.selectionModel()
        if index.isValid() and not selection.isRowSelected(index.row(), index.parent()):
            view.selectRow(index.row())
        view.context_menu = build_menu(view, entries())
        view.context_menu.popup(view.viewport().mapToGlobal(pos))

    view.customContextMenuRequested.connect(show)
