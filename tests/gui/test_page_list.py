"""A page is added in one place (gui/page_list.py): the window builds, names, orders and
gives a shortcut to whatever is listed there."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from labdeck.gui import main_window, page_list


def test_a_page_listed_once_gets_its_sidebar_entry_stack_slot_and_shortcut(qtbot, engine, monkeypatch):
    extra = page_list.Page("notes_page", lambda _engine, _actions: QLabel("lab notes"), "Notes", "#000000",
                           "Free-form notes about the lab")
    monkeypatch.setattr(main_window, "PAGES", [*page_list.PAGES, extra])
    monkeypatch.setattr(page_list, "PAGES", [*page_list.PAGES, extra])
    window = main_window.MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    index = len(page_list.PAGES) - 1
    assert [window.sidebar.item(i).text() for i in range(window.sidebar.count())][-1] == "Notes"
    assert window.stack.widget(index) is window.notes_page and window.notes_page.text() == "lab notes"
    assert window.sidebar.item(index).toolTip() == f"Free-form notes about the lab (Ctrl+{index + 1})"
    window.show_page(index)
    assert window.stack.currentWidget() is window.notes_page


def test_the_sidebar_lists_the_pages_in_order():
    assert [p.name for p in page_list.PAGES] == ["Nodes", "Jobs", "Run", "History", "Settings", "Schedules",
                                                 "Transfers", "Queue"]
