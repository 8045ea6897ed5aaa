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
    assert "1 node  ·" in window.counts_label.text() and "failed today" in window.counts_label.text()
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


def test_destroying_a_live_output_listener_does_not_deadlock(tmp_path):
    # When a widget listening to nodeRunOutput is destroyed, Qt calls the bridge's
    # disconnectNotify with its signal-slot mutex held; the bridge must not call back into
    # QObject there (isSignalConnected deadlocked once, hanging the process at exit).
    script = (
        "import shiboken6\n"
        "from PySide6.QtCore import QObject, Slot\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from labdeck.engine.engine import Engine\n"
        "from labdeck.gui.bridge import EngineBridge\n"
        "class Listener(QObject):\n"
        "    @Slot(int, int, str, str)\n"
        "    def take(self, *args):\n"
        "        pass\n"
        "app = QApplication([])\n"
        f"engine = Engine({str(tmp_path / 'data')!r})\n"
        "bridge = EngineBridge(engine)\n"
        # Hundreds of listeners make two objects share one of Qt's pool mutexes, the case
        # that deadlocked.
        "listeners = [Listener() for _ in range(600)]\n"
        "for listener in listeners:\n"
        "    bridge.nodeRunOutput.connect(listener.take)\n"
        "assert bridge._want_text\n"
        "for listener in listeners:\n"
        "    shiboken6.delete(listener)\n"
        "bridge.flush_output()\n"
        "assert not bridge._want_text  # nobody listens: output text is no longer kept\n"
        "engine.close()\n"
        "print('done', flush=True)\n"
    )
    import os
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env=os.environ | {"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"


def test_main_window_over_the_engine_process_shows_a_run(qtbot, data_dir):
    """The app's own set-up: the window in this process, the engine in a child process."""
    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow
    from tests.gui.conftest import wait_run_final

    engine = EngineProcess(data_dir)
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.start_scheduling() is None
        run = engine.start_job("hello", {"greeting": "via the engine process"})
        window.open_run(run.id)
        view = window.run_view
        wait_run_final(qtbot, engine, run.id)
        qtbot.waitUntil(lambda: view.status_of("this-computer") == "succeeded", timeout=5000)
        qtbot.waitUntil(lambda: view.log.area.rows >= 1, timeout=5000)
        assert "via the engine process" in view.log.index.line(0)
    finally:
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close()


def test_events_queued_before_detach_are_not_delivered_after_it(qtbot, engine):
    """An engine thread's event still in the Qt queue when the window detaches (it is closing)
    must not reach the pages: their catalog is about to be closed."""
    import threading

    from labdeck.core.events import RunFinished
    from labdeck.core.status import RunStatus

    bridge = EngineBridge(engine)
    finished = []
    bridge.runFinished.connect(lambda *args: finished.append(args))
    sender = threading.Thread(target=engine.bus.publish, args=(RunFinished(7, "job", RunStatus.SUCCEEDED),))
    sender.start()
    sender.join()
    bridge.detach()
    qtbot.wait(100)  # the queued event is processed now
    assert finished == []

    attached = EngineBridge(engine)
    attached.runFinished.connect(lambda *args: finished.append(args))
    sender = threading.Thread(target=engine.bus.publish, args=(RunFinished(8, "job", RunStatus.SUCCEEDED),))
    sender.start()
    sender.join()
    qtbot.waitUntil(lambda: finished == [(8, "job", "succeeded")], timeout=3000)
    attached.detach()


def test_bridge_hands_on_notifications_by_their_class(qtbot, engine):
    """The tray hears of every Notification, a more specific kind of it included (the bridge
    matched the class name before, so a subclass was dropped)."""
    from labdeck.core.events import Notification

    class RetryNotification(Notification):
        pass

    bridge = EngineBridge(engine)
    heard: list[tuple] = []
    bridge.notification.connect(lambda *args: heard.append(args))
    engine.bus.publish(Notification("failed", "nightly", 7, "failed", "nightly failed on 2 nodes"))
    engine.bus.publish(RetryNotification("failed", "hourly", 8, "failed", "hourly failed again"))
    qtbot.waitUntil(lambda: len(heard) == 2, timeout=5000)
    assert [h[1] for h in heard] == ["nightly", "hourly"]
    bridge.detach()


def test_a_start_the_engine_cannot_answer_is_reported_in_the_window_without_blocking_it(qtbot, data_dir):
    """The window's engine calls run off the GUI thread: with the engine process frozen, Run
    returns at once, and when the call gives up the window says why."""
    import os
    import signal
    import time

    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow

    engine = EngineProcess(data_dir)
    engine.call_timeout_s = 2
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    os.kill(engine.pid, signal.SIGSTOP)  # a busy engine that does not answer
    try:
        began = time.monotonic()
        window.actions._start("hello", {}, None)
        assert time.monotonic() - began < 0.5  # the GUI thread did not wait for the engine
        qtbot.waitUntil(lambda: bool(window.errors), timeout=10_000)
        assert window.errors[-1].startswith("Cannot start hello: LabDeck's engine did not answer 'start_job' "
                                            "within 2 s")
        assert window.banner.text() == window.errors[-1]
    finally:
        os.kill(engine.pid, signal.SIGCONT)
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close(cancel_running=True, stop_engine=True)
