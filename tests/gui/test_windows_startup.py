"""How the desktop app starts on a desk PC: one app per data folder even for two quick
double-clicks (the lock comes before the engine and the window), an engine that fails to start
shows a message box naming its log (the engine writes one: it has no console), and the autostart's
``--minimized`` keeps the window out of the way."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labdeck.cli import _add_global_options
from labdeck.gui import app as gui_app
from labdeck.store import paths

ROOT = Path(__file__).resolve().parents[2]


def app_env() -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=f"{ROOT / 'app'}{os.pathsep}{ROOT}")


def test_two_quick_starts_give_one_app(tmp_path):
    """Both start within milliseconds, before either has an engine or a window: before the lock
    came first, neither found the other and two apps (two engines) shared one catalog."""
    code = f"import sys; from labdeck.gui.app import run_app; sys.exit(run_app({str(tmp_path)!r}))"
    starts = [subprocess.Popen([sys.executable, "-c", code], env=app_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and all(p.poll() is None for p in starts):
            time.sleep(0.1)
        ended = [p for p in starts if p.poll() is not None]
        assert len(ended) == 1, "both instances kept running on one catalog"
        out = ended[0].stdout.read()
        assert ended[0].returncode == 0 and "already running" in out, out
        time.sleep(1)
        assert [p for p in starts if p not in ended][0].poll() is None  # the first one keeps running
    finally:
        for p in starts:
            if p.poll() is None:
                p.terminate()
                p.wait(20)


def test_an_engine_that_fails_to_start_shows_a_box_naming_its_log(qapp, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from labdeck.engine import engine_process
    monkeypatch.setattr(engine_process, "service_argv", lambda data_dir: [sys.executable, "-c",
                                                                          "import sys; sys.exit(5)"])
    monkeypatch.delenv("LABDECK_ENGINE", raising=False)
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.windowTitle(), box.text())) or 0)
    assert gui_app.run_app(tmp_path) == 1
    assert len(shown) == 1 and shown[0][0] == "LabDeck could not start"
    assert "exit code 5" in shown[0][1] and str(paths.engine_log_path(tmp_path.resolve())) in shown[0][1]
    assert gui_app.take_instance_lock(tmp_path.resolve()) is not None  # the failed start let go of its lock


def test_a_network_data_folder_is_refused_in_a_box(qapp, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.chdir(tmp_path)  # on Linux that name is a relative folder: never made in the checkout
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    assert gui_app.run_app(r"\\fileserver\lab\LabDeck") == 2
    assert len(shown) == 1 and "Choose a folder on a local disk" in shown[0]


def test_the_engine_process_writes_its_failure_to_its_own_log(tmp_path):
    (tmp_path / "catalog.sqlite").write_bytes(b"this is not a SQLite catalog" * 100)  # the engine cannot open it
    child = subprocess.run([sys.executable, "-m", "labdeck.engine.service", str(tmp_path)],
                           env=app_env(), capture_output=True, text=True, timeout=60)
    assert child.returncode == 1
    log = paths.engine_log_path(tmp_path).read_text(encoding="utf-8")
    assert "the engine process failed" in log and "Traceback" in log


def test_minimized_keeps_the_window_out_of_the_way(qtbot, engine):
    from labdeck.gui.main_window import MainWindow
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    try:
        gui_app.show_main_window(window, minimized=True)
        assert window.isVisible() and window.isMinimized()  # no tray here: minimised to the taskbar
        window.tray = object()  # with a tray, only the tray icon shows
        window.hide()
        gui_app.show_main_window(window, minimized=True)
        assert not window.isVisible()
    finally:
        window.tray = None
        window._quitting = True
        window.close()
        window.bridge.detach()


def test_the_command_line_takes_minimized():
    import argparse
    args, rest = _add_global_options(argparse.ArgumentParser(add_help=False)).parse_known_args(["--minimized"])
    assert args.minimized and rest == []


def test_the_transfers_page_says_which_names_were_changed_for_windows(qtbot, window, engine, tmp_path, monkeypatch):
    from labdeck.core.transfers import Direction
    from labdeck.engine import transfer_node
    from labdeck.engine.transfers import TransferRequest
    monkeypatch.setattr(transfer_node, "NTFS_NAMES", True)  # as on a Windows controller
    remote = tmp_path / "results"
    remote.mkdir()
    (remote / "a:b.txt").write_text("stream")
    (remote / "ok.txt").write_text("ok")
    transfer = engine.transfers.start(TransferRequest(Direction.GET, [str(remote)], str(tmp_path / "collected"),
                                                      "this-computer"))
    page = window.transfers_page
    qtbot.waitUntil(lambda: (row := page.model.row_of(transfer.id, "this-computer")) is not None
                    and row.state == "done", timeout=30_000)
    from labdeck.gui.models.transfer_model import COLUMNS
    row = page.model.row_of(transfer.id, "this-computer")
    state = page.model.data(page.model.index(page.model.rows.index(row), len(COLUMNS) - 1))
    assert state == "done: 1 name(s) changed for Windows: results/a:b.txt -> results/a%3Ab.txt"
    assert (tmp_path / "collected" / "this-computer" / "results" / "a%3Ab.txt").read_text() == "stream"


def test_the_node_dialog_sets_the_python_for_py_steps(qtbot, window, engine):
    page = window.nodes_page
    page.refresh()
    page.select_names(["this-computer"])
    dialog = page.edit_node()
    assert dialog.python.text() == "" and "found on the node" in dialog.python.placeholderText()
    dialog.python.setText("py -3 & calc")
    dialog.save()
    assert "will not put on a command line" in dialog.message.text()  # refused in the dialog, nothing saved
    assert engine.catalog.get_node("this-computer").python == ""
    dialog.python.setText(r"C:\Program Files\Python312\python.exe")
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        dialog.save()
    assert engine.catalog.get_node("this-computer").python == r"C:\Program Files\Python312\python.exe"
    page.select_names(["this-computer"])
    again = page.edit_node()
    assert again.python.text() == r"C:\Program Files\Python312\python.exe"
    again.python.setText("")
    with qtbot.waitSignal(again.saved, timeout=20_000):
        again.save()
    assert engine.catalog.get_node("this-computer").python == ""  # cleared: found on the node again
