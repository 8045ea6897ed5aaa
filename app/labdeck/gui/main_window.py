"""MainWindow: sidebar navigation between the pages, a status bar with live counts, keyboard
shortcuts (Ctrl+1..8 pages, Ctrl+R run the selected job, F5 refresh), Help > About, an error
banner that never blocks, the tray icon when the system has one, and a careful close."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from ..engine.api import EngineApi
from ..store import queries, run_queue
from .actions import Actions, ask_yes_no
from .bridge import EngineBridge
from .catalog_watch import CatalogWatcher
from .dialogs.remote_browser import RemoteBrowser
from .icons import app_icon
from .page_list import PAGES, tooltip
from .pages.settings_page import THEME_KEY, apply_theme
from .screen_fit import first_size, refresh_keys
from .status_style import BAD, dot_icon, plural
from .tour import TOUR_KEY, Tour
from .tray import Tray

SIDEBAR_STYLE = ("QListWidget { border: none; font-size: 11pt; }"
                 " QListWidget::item { padding: 9px 6px; }"
                 "QListWidget::item:selected { background: palette(midlight); color: palette(text);"
                 " border-left: 3px solid palette(highlight); }")


class MainWindow(QMainWindow):
    quitRequested = Signal()

    def __init__(self, engine: EngineApi, use_tray: bool | None = None):
        super().__init__()
        self.engine = engine
        self.confirm = ask_yes_no
        self.errors: list[str] = []
        self.setWindowTitle(f"LabDeck — {engine.data_dir}")
        self.setWindowIcon(app_icon())
        self.resize(first_size(self))
        self.bridge = EngineBridge(engine, parent=self)
        self.actions = Actions(engine, self)

        self.stack = QStackedWidget()
        for spec in PAGES:  # gui/page_list.py: self.nodes_page, self.jobs_page, ... in sidebar order
            page = spec.make(engine, self.actions)
            setattr(self, spec.attribute, page)
            self.stack.addWidget(page)

        self.sidebar = QListWidget()
        self.sidebar.setIconSize(QSize(14, 14))
        self.sidebar.setFixedWidth(150)
        self.sidebar.setStyleSheet(SIDEBAR_STYLE)
        for i, spec in enumerate(PAGES):
            item = QListWidgetItem(dot_icon(spec.color, 14), spec.name)
            item.setToolTip(tooltip(i))
            self.sidebar.addItem(item)
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, activated=lambda i=i: self.show_page(i))
        self.sidebar.currentRowChanged.connect(self._page_changed)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#ffebee; color:#b71c1c; padding:6px; border-radius:4px;")
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(lambda: self.banner_box.hide())
        self.banner_box = QWidget()
        bl = QHBoxLayout(self.banner_box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.banner, 1)
        bl.addWidget(dismiss)
        self.banner_box.hide()

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 4, 4, 0)
        rl.addWidget(self.banner_box)
        rl.addWidget(self.stack, 1)
        central = QWidget()
        cl = QHBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.sidebar)
        cl.addWidget(right, 1)
        self.setCentralWidget(central)

        self.counts_label = QLabel()
        self.scheduler_label = QLabel()
        self.statusBar().addPermanentWidget(self.scheduler_label)
        self.statusBar().addPermanentWidget(self.counts_label)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = help_menu.addAction("&About LabDeck", self.show_about)
        help_menu.addAction("Show the &tour", self.start_tour)
        self.tour: Tour | None = None
        self.about_dialog = None
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.run_selected_job)
        # One action for every Refresh key: a separate "F5" shortcut next to the standard Refresh
        # key (F5 itself on most systems) made the two ambiguous, and Qt then fires neither.
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcuts(refresh_keys())
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.refresh_action.triggered.connect(self.refresh_all)
        self.addAction(self.refresh_action)

        self.tray: Tray | None = None
        self._shut_down = False
        self._engine_notifies = False
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        if use_tray:
            self.tray = Tray(engine, self)
            self.tray.openRequested.connect(self.bring_to_front)
            self.tray.openRun.connect(self.open_run)
            self.tray.schedulingToggled.connect(lambda _paused: self.schedules_page.refresh())
            self.tray.quitRequested.connect(self.request_quit)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(250)
        self._refresh_timer.timeout.connect(self.refresh_live)
        self._stale: set[QWidget] = set()
        self.watcher = CatalogWatcher(engine.catalog, self)
        self.watcher.changed.connect(self._refresh_timer.start)
        self.watcher.tick.connect(self.refresh_live)
        self._wire()
        apply_theme(engine.catalog.get_setting(THEME_KEY, "Follow the system"))
        self.show_page(0)
        self.refresh_all()
        self._quitting = False

    def _wire(self) -> None:
        b = self.bridge
        b.changed.connect(lambda: self._refresh_timer.start())
        for signal in (b.runStarted, b.nodeRunStarted, b.nodeRunStateChanged, b.nodeRunFinished, b.runFinished):
            signal.connect(self.run_view.on_event)
        b.outputArrived.connect(self.run_view.on_output_arrived)
        self.run_view.bridge = b
        b.nodeSeen.connect(self.nodes_page.on_node_seen)
        b.transferEvent.connect(self.transfers_page.on_transfer_event)
        self.nodes_page.filesDropped.connect(self.upload_dropped)
        self.nodes_page.browseRequested.connect(self.browse_node)
        b.runFinished.connect(self._run_finished)
        b.notification.connect(self._engine_notification)
        self.actions.runLaunched.connect(self.open_run)
        self.actions.error.connect(self.show_error)
        self.actions.info.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.runs_page.openRun.connect(self.open_run)
        self.run_view.children.openRun.connect(self.open_run)
        self.schedules_page.stateChanged.connect(self._scheduler_state)
        self.jobs_page.schedulesRequested.connect(self.open_schedules)
        self.jobs_page.historyRequested.connect(self.open_history)
        self.nodes_page.openRun.connect(self.open_run)
        self.schedules_page.update_state_later()
        self.queue_page.attach(b)
        self.queue_page.openRun.connect(self.open_run)
        self.queue_page.error.connect(self.show_error)

    # ---- navigation -------------------------------------------------------------------------------

    def show_page(self, index: int) -> None:
        self.sidebar.setCurrentRow(index)

    def _page_changed(self, index: int) -> None:
        page = self.stack.widget(index)
        if page is self.runs_page or page is self.run_view or page in self._stale:
            self._refresh_page(page)
        if page is self.queue_page:
            self.queue_page.refresh()
        self.stack.setCurrentIndex(index)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "sidebar"):
            # a style sheet's palette(...) colours are taken when it is set: the system switching
            # between light and dark would leave the page list in the old colours
            self.sidebar.setStyleSheet(SIDEBAR_STYLE)
        super().changeEvent(event)

    def open_run(self, run_id: int) -> None:
        if run_queue.is_planned(self.engine.catalog, run_id):  # a workflow, array or queued run
            self.queue_page.show_run(run_id)
            return self.show_page(self.stack.indexOf(self.queue_page))
        self.run_view.show_run(run_id)
        self.show_page(2)

    def upload_dropped(self, paths: list[str], targets: str) -> None:
        """Files dropped onto nodes: the upload dialog, filled in, on the Transfers page."""
        self.show_page(self.stack.indexOf(self.transfers_page))
        self.transfers_page.upload(targets, paths)

    def browse_node(self, node_name: str) -> RemoteBrowser:
        browser = RemoteBrowser(self.engine, node_name, parent=self)
        browser.failed.connect(self.show_error)
        self.bridge.transferEvent.connect(browser.on_transfer_event)
        browser.finished.connect(lambda _r: self.bridge.transferEvent.disconnect(browser.on_transfer_event))
        browser.finished.connect(browser.deleteLater)
        self.browser = browser
        browser.show()
        return browser

    def open_history(self, job_name: str, status: str = "", run_id: int | None = None) -> None:
        self.show_page(self.stack.indexOf(self.runs_page))
        self.runs_page.show_filtered(job_name, status or None, run_id)

    def open_schedules(self, job_name: str) -> None:
        self.show_page(self.stack.indexOf(self.schedules_page))
        self.schedules_page.show_job(job_name)

    def start_scheduling(self) -> str | None:
        """Fire schedules from this app; if another LabDeck process already does, the status bar says so."""
        return self.schedules_page.start_scheduling()

    def start_scheduling_in_background(self) -> None:
        """The same, off the GUI thread (the app's start)."""
        self.schedules_page.start_scheduling_in_background()

    def _scheduler_state(self, state: str, text: str) -> None:
        short = {"here": "scheduling on", "paused": "scheduling PAUSED", "other": "scheduled by another process",
                 "none": "scheduling off", "unknown": "scheduling unknown"}[state]
        self.scheduler_label.setText(f"  {short}  ")
        self.scheduler_label.setToolTip(text)
        self.scheduler_label.setStyleSheet("color:#e65100;" if state in ("paused", "none") else "")

    def run_selected_job(self) -> None:
        if self.stack.currentWidget() is not self.jobs_page:
            self.show_page(1)
        self.jobs_page.run_selected()

    def maybe_start_tour(self) -> Tour | None:
        """The first-start tour, once per data folder."""
        if self.engine.catalog.get_setting(TOUR_KEY) == "1":
            return None
        return self.start_tour()

    def start_tour(self) -> Tour:
        if self.tour is not None and self.tour.isVisible():
            return self.tour
        self.tour = Tour(self)
        return self.tour

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        if self.tour is not None and self.tour.isVisible():
            self.tour.place()

    def show_about(self):
        from .dialogs.about_dialog import AboutDialog
        self.about_dialog = AboutDialog(self.engine.data_dir, self)
        self.about_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.about_dialog.open()
        return self.about_dialog

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    # ---- state ------------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """Everything now (F5, tests): every page that is kept up to date, and the status bar."""
        if self._shut_down:
            return
        self.nodes_page.refresh()
        self.jobs_page.refresh()
        self._stale.discard(self.nodes_page)
        self._stale.discard(self.jobs_page)
        if self.stack.currentWidget() is self.runs_page:
            self.runs_page.refresh()
        if self.stack.currentWidget() is self.schedules_page:
            self.schedules_page.refresh()
        self.run_view.reload()
        self._refresh_counts()

    def refresh_live(self) -> None:
        """The engine moved (a run or a node run started or ended): refresh the page on screen and
        the status bar; the other pages catch up when they are shown. While nodes stream output
        the GUI thread competes with the engine's threads for the GIL (every SQLite row, file
        read and many Qt calls hand it over), so it does only what is visible."""
        if self._shut_down:
            return
        self._stale.update((self.nodes_page, self.jobs_page, self.runs_page, self.schedules_page))
        page = self.stack.currentWidget()
        if page is not self.run_view:  # the run view follows its run from the bridge signals itself
            self._refresh_page(page)
        self._refresh_counts()

    def _refresh_page(self, page) -> None:
        self._stale.discard(page)
        if page is self.nodes_page:
            self.nodes_page.refresh()
        elif page is self.jobs_page:
            self.jobs_page.refresh()
        elif page is self.runs_page:
            self.runs_page.refresh()
        elif page is self.schedules_page:
            self.schedules_page.refresh()
        elif page is self.run_view:
            self.run_view.reload()

    def _refresh_counts(self) -> None:
        c = queries.counts(self.engine.catalog)
        self.counts_label.setText(f"  {plural(c['nodes'], 'node')}  ·  {c['running']} running  ·  "
                                  f"{c['failed_today']} failed today  ")
        self.counts_label.setToolTip("Nodes in the catalog · runs in progress · runs that failed since midnight")
        if self.tray:
            self.tray.refresh()

    def show_error(self, text: str) -> None:
        self.errors.append(text)
        self.banner.setText(text)
        self.banner_box.show()
        self.statusBar().showMessage(text, 10000)

    def _engine_notification(self, kind: str, job_name: str, run_id, text: str) -> None:
        """The engine's notifier decided to tell the user; from now on it decides, not _run_finished."""
        self._engine_notifies = True
        if self.settings_page.notifications_on():
            if self.tray:
                self.tray.icon.showMessage(f"LabDeck: {job_name} {kind}", text, QSystemTrayIcon.MessageIcon.Warning,
                                           8000)
            self.statusBar().showMessage(text, 15000)

    def _run_finished(self, run_id: int, job_name: str, status: str) -> None:
        if self._engine_notifies:
            return
        if status in BAD and self.settings_page.notifications_on():
            if self.tray:
                self.tray.notify_failure(run_id, job_name, status)
            self.statusBar().showMessage(f"Run #{run_id} of {job_name} ended {status}", 15000)

    # ---- closing ------------------------------------------------------------------------------------

    def active_run_count(self) -> int:
        return len(self.engine.catalog.active_runs())

    def request_quit(self) -> None:
        if self._may_quit():
            self._quitting = True
            self.close()
            self.quitRequested.emit()

    def _may_quit(self) -> bool:
        running = self.active_run_count()
        return not running or self.confirm(
            self, "Quit LabDeck",
            f"{running} run(s) are still in progress. Quitting cancels their attached commands on every node; "
            "detached commands keep running there, and LabDeck follows them again when it next starts. Quit anyway?")

    def closeEvent(self, event) -> None:
        if self._quitting:
            self._shutdown_widgets()
            return event.accept()
        if self.tray is not None:
            self.hide()
            self.tray.icon.showMessage("LabDeck keeps running", "Runs continue; open LabDeck from the tray icon.",
                                       QSystemTrayIcon.MessageIcon.Information, 3000)
            return event.ignore()
        if not self._may_quit():
            return event.ignore()
        self._quitting = True
        self._shutdown_widgets()
        event.accept()
        self.quitRequested.emit()

    def _shutdown_widgets(self) -> None:
        """Stop everything that would touch the engine after it is closed."""
        self._shut_down = True
        self._refresh_timer.stop()
        self.watcher.stop()
        self.schedules_page.timer.stop()
        self.queue_page.timer.stop()
        self.queue_page.detach()
        self.run_view.ticker.stop()
        self.run_view._reload_timer.stop()
        self.run_view.log.timer.stop()
        self.run_view.log.close_index()
        self.bridge.detach()
