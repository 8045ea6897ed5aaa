"""The main window's pages, in sidebar order: the one place a page is named. Adding a page is
one entry here (its class, the window attribute it is kept under, its sidebar name, colour and
tooltip); Ctrl+1..9 follow the order. What a page does with the engine's signals is wired in
main_window.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from ..engine.api import EngineApi
from .actions import Actions
from .pages.jobs_page import JobsPage
from .pages.nodes_page import NodesPage
from .pages.queue_page import QueuePage
from .pages.run_view import RunView
from .pages.runs_page import RunsPage
from .pages.schedules_page import SchedulesPage
from .pages.settings_page import SettingsPage
from .pages.transfers_page import TransfersPage


@dataclass(frozen=True)
class Page:
    attribute: str                                      # the MainWindow attribute that holds it
    make: Callable[[EngineApi, Actions], QWidget]
    name: str                                           # the sidebar's text
    color: str                                          # the sidebar dot
    tip: str                                            # the sidebar tooltip (the shortcut is added)


PAGES = [
    Page("nodes_page", NodesPage, "Nodes", "#26a69a", "Every machine at a glance"),
    Page("jobs_page", JobsPage, "Jobs", "#5c6bc0", "Job definitions: run, edit, create"),
    Page("run_view", RunView, "Run", "#1e88e5", "The current run live, node by node"),
    Page("runs_page", lambda engine, _actions: RunsPage(engine), "History", "#8d6e63",
         "Every run, with filters and search"),
    Page("settings_page", lambda engine, _actions: SettingsPage(engine), "Settings", "#78909c",
         "Data folder, notifications, theme"),
    Page("schedules_page", lambda engine, _actions: SchedulesPage(engine), "Schedules", "#ffb300",
         "Schedules of every job, upcoming runs, pause all"),
    Page("transfers_page", TransfersPage, "Transfers", "#7e57c2", "Uploads and collections: progress, cancel, retry"),
    Page("queue_page", lambda engine, _actions: QueuePage(engine), "Queue", "#ec407a",
         "Waiting runs and why they wait; workflows and arrays"),
]


def tooltip(index: int) -> str:
    return f"{PAGES[index].tip} (Ctrl+{index + 1})"
