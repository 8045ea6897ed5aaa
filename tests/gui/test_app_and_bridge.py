"""The bridge coalesces chatty output and keeps it ordered before nodeRunFinished; the app is
single-instance per data folder; closing without a tray asks while runs are active."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labdeck.gui.app import SingleInstance, ask_running_instance, server_name
from labdeck.gui.bridge import EngineBridge
from tests.gui.conftest import wait_run_final

ROOT = Path(__file__).resolve().parents[2]


def test_bridge_coalesces_output_in_order(qtbot, engine):
    bridge = EngineBridge(engine)
    chunks: list[tuple[str, str]] = []
    order: list[str] = []
    bridge.nodeRunOutput.connect(lambda r, nr, node, text: (chunks.append((node, text)), order.append("out")))
    bridge.nodeRunFinished.connect(lambda *a: order.append("finished"))
    bridge.runFinished.connect(lambda *a: order.append("run-finished"))
    run = engine.start_command("for i in $(seq 1 3000); do echo line $i; done", "this-computer")
    wait_run_final(qtbot, engine, run.id)
    qtbot.waitUntil(lambda: "run-finished" in order, timeout=5000)
    text = "".join(t for _n, t in chunks)
    assert text.splitlines() == [f"line {i}" for i in range(1, 3001)]
    assert len(chunks) < 300  # far fewer signals than output events
    assert order.index("finished") > max(i for i, o in enumerate(order) if o == "out") or order.count("out") == 0
    log = Path(engine.catalog.node_runs(run.id)[0].log_path).read_text()
    assert log == text
    bridge.detach()


def test_single_instance_raises_first_window(qtbot, data_dir):
    name = server_name(data_dir) + "-t"
    raised = []
    first = SingleInstance(name, lambda: raised.append(True))
    try:
        assert ask_running_instance(name)
        qtbot.waitUntil(lambda: raised == [True], timeout=3000)
    finally:
        first.close()
    assert not ask_running_instance(name, 200)


def test_second_start_exits_zero(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=f"{ROOT / 'app'}{os.pathsep}{ROOT}")
    code = f"import sys; from labdeck.gui.app import run_app; sys.exit(run_app({str(tmp_path)!r}))"
    first = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        from PySide6.QtNetwork import QLocalSocket
        deadline = time.time() + 20
        while time.time() < deadline:
            sock = QLocalSocket()
            sock.connectToServer(server_name(tmp_path.resolve()))
            if sock.waitForConnected(200):
                sock.disconnectFromServer()
                break
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 0
        assert "already running" in second.stdout
        assert first.poll() is None  # the first instance keeps running
    finally:
        first.terminate()
        first.wait(10)


def test_close_without_tray_asks_while_runs_are_active(qtbot, window, engine):
    quit_requests = []
    window.quitRequested.connect(lambda: quit_requests.append(1))
    run = engine.start_command("sleep 30", "this-computer")
    window.confirm_answer = False
    window.close()
    assert window.isVisible() and window.asked == ["Quit LabDeck"] and not quit_requests
    window.confirm_answer = True
    window.close()
    assert quit_requests == [1]
    engine.cancel(run.id)
    wait_run_final(qtbot, engine, run.id)


def test_shortcuts_switch_pages(qtbot, window):
    from PySide6.QtCore import Qt

    for i, page in enumerate([window.nodes_page, window.jobs_page, window.run_view, window.runs_page,
                              window.settings_page]):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{i + 1}"), Qt.KeyboardModifier.ControlModifier)
        assert window.stack.currentWidget() is page
    assert "nodes" in window.counts_label.text() and "failed today" in window.counts_label.text()
    window.settings_page.notifications.setChecked(False)
    assert window.engine.catalog.get_setting("gui.notifications") == "0"


def test_tray_state_menu_and_failure_entries(qtbot, window, engine):
    from labdeck.gui.tray import Tray

    tray = Tray(engine)
    assert tray.state == "idle"
    texts = [a.text() for a in tray.menu.actions()]
    assert texts[0] == "Open LabDeck" and texts[-1] == "Quit"
    run = engine.start_command("exit 4", "this-computer")
    wait_run_final(qtbot, engine, run.id)
    tray.refresh()
    assert tray.state == "failed"
    entries = [a for a in tray.menu.actions() if a.text().startswith(f"#{run.id} ")]
    assert entries
    opened = []
    tray.openRun.connect(opened.append)
    entries[0].trigger()
    assert opened == [run.id]
    tray.notify_failure(run.id, "(ad-hoc)", "failed")  # must not raise without a system tray
    tray.icon.hide()
