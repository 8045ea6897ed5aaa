"""Help > About shows the version; Settings shows where the data and logs are and opens those
folders; the window and tray use the icon set from resources/, the tray's following the state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication

from labdeck import __version__
from labdeck.gui.icons import app_icon, resources_dir, tray_icon
from tests.gui.conftest import wait_run_final

ROOT = Path(__file__).resolve().parents[2]


class FileUrlCatcher(QObject):
    """Receives the file URLs QDesktopServices.openUrl is asked to open (Qt's own hook for this)."""

    def __init__(self):
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_help_about_shows_the_version_and_copies_the_details(qtbot, window, engine):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.about_action in help_menu.actions()
    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog.isVisible() and dialog.windowTitle() == "About LabDeck"
    assert dialog.value_labels["Version"].text() == __version__
    assert dialog.value_labels["Data folder"].text() == str(engine.data_dir)
    assert "from source" in dialog.value_labels["Build"].text()
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert f"Version: {__version__}" in copied and "Qt: " in copied
    dialog.close()


def test_settings_show_the_data_and_log_locations_and_open_them(qtbot, window, engine):
    page = window.settings_page
    window.show_page(window.stack.indexOf(page))
    shown = {name: path for name, (path, _folder) in page.locations.items()}
    data = Path(engine.data_dir)
    assert shown == {"Data folder": data, "Catalog": data / "catalog.sqlite", "Run logs": data / "logs",
                     "App log": data / "labdeck.log"}
    texts = [label.text() for label in page.findChildren(type(page.open_note))]
    assert all(any(str(path) in text for text in texts) for path in shown.values())
    assert set(page.open_buttons) == {"Data folder", "Run logs"}

    catcher = FileUrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        page.open_buttons["Run logs"].click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(data / "logs")]
    assert (data / "logs").is_dir()  # made if no run wrote a log yet, so there is a folder to show
    assert page.open_note.isHidden()


def test_settings_say_so_when_no_file_manager_opens_the_folder(qtbot, window, engine):
    page = window.settings_page
    window.show_page(window.stack.indexOf(page))
    page.open_buttons["Data folder"].click()  # the offscreen platform has no file manager to start
    assert page.open_note.isVisible()
    assert str(engine.data_dir) in page.open_note.text() and "open it yourself" in page.open_note.text()


def test_window_and_tray_use_the_icon_set(qtbot, window, engine):
    assert resources_dir() == ROOT / "resources"
    assert window.windowIcon().cacheKey() == app_icon().cacheKey()
    assert {s.width() for s in app_icon().availableSizes()} >= {16, 32, 48, 256}
    keys = {state: tray_icon(state).cacheKey() for state in ("idle", "running", "failed")}
    assert len(set(keys.values())) == 3

    from labdeck.gui.tray import Tray
    tray = Tray(engine)
    try:
        assert tray.icon.icon().cacheKey() == keys["idle"]
        run = engine.start_command("sleep 30", "this-computer")
        tray.refresh()
        assert tray.state == "running" and tray.icon.icon().cacheKey() == keys["running"]
        engine.cancel(run.id)
        wait_run_final(qtbot, engine, run.id)
        failed = engine.start_command("exit 3", "this-computer")
        wait_run_final(qtbot, engine, failed.id)
        tray.refresh()
        assert tray.state == "failed" and tray.icon.icon().cacheKey() == keys["failed"]
    finally:
        tray.icon.hide()


def test_self_test_from_source_runs_the_sample_job(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "labdeck", "--self-test"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test — from source" in result.stdout
    assert "engine started (EngineProcess)" in result.stdout  # as the desktop app starts it
    assert "job 'hello' ran on this-computer: run succeeded, exit code 0" in result.stdout
    assert "run timeline drawn (pyqtgraph): bars [('this-computer', 'succeeded')]" in result.stdout
    assert "self-test passed: 10 checks" in result.stdout


def test_startup_probe_reports_the_first_paint(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "labdeck", "--data-dir", str(tmp_path / "d"), "--startup-probe"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("startup-probe: painted_at=") and "platform=offscreen" in result.stdout
    assert (tmp_path / "d" / "catalog.sqlite").is_file()  # it opened the data folder it was given
