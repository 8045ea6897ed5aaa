"""The window's engine calls never run on the GUI thread: with the catalog's engine process
frozen (a busy engine that does not answer), the queue page's Re-run failed, removing a node
and the Import nodes dialog's Check and Import return at once, and when the call gives up
(the client's deadline, 2 s here) the window or the dialog says why."""

from __future__ import annotations

import os
import signal
import time

import pytest
from PySide6.QtCore import Qt

from labdeck.core.status import RunStatus
from tests.support.runs import add_job

DEADLINE = "did not answer"


@pytest.fixture
def frozen(qtbot, data_dir):
    """(window, engine, freeze): a MainWindow over the engine process; freeze() stops that process."""
    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow
    from labdeck.gui.workers import in_flight

    engine = EngineProcess(data_dir)
    window = MainWindow(engine, use_tray=False)
    window.nodes_page.confirm = lambda *_a, **_k: True
    qtbot.addWidget(window)
    window.show()
    stopped = []

    def freeze(deadline_s: float = 2) -> None:
        # the window's start-up calls answer first: one sent before this still has 120 s to wait
        qtbot.waitUntil(lambda: in_flight() == 0, timeout=10_000)
        engine.call_timeout_s = deadline_s
        os.kill(engine.pid, signal.SIGSTOP)
        stopped.append(engine.pid)
    yield window, engine, freeze
    for pid in stopped:
        os.kill(pid, signal.SIGCONT)
    window._quitting = True
    window.close()
    window.bridge.detach()
    engine.close(cancel_running=True, stop_engine=True)


def returns_at_once(action) -> None:
    began = time.monotonic()
    action()
    assert time.monotonic() - began < 0.5, "the GUI thread waited for the engine"


def test_rerun_failed_on_the_queue_page_does_not_wait_for_the_engine(qtbot, frozen):
    window, engine, freeze = frozen
    add_job(engine, "name: flaky\ntargets: this-computer\narray: 2\nsteps: ['exit 3']\n")
    run = engine.start_job("flaky")
    assert engine.wait(run.id, 60)
    assert engine.catalog.get_run(run.id).status is RunStatus.FAILED
    page = window.queue_page
    window.open_run(run.id)
    qtbot.waitUntil(lambda: page.detail_run_id == run.id and page.rerun_button.isEnabled(), timeout=10_000)
    freeze()
    returns_at_once(lambda: qtbot.mouseClick(page.rerun_button, Qt.MouseButton.LeftButton))
    qtbot.waitUntil(lambda: bool(window.errors), timeout=15_000)
    assert window.errors[-1].startswith(f"Cannot re-run the failed items of run #{run.id}: ")
    assert DEADLINE in window.errors[-1] and window.banner.text() == window.errors[-1]


def test_removing_a_node_does_not_wait_for_the_engine(qtbot, frozen):
    window, engine, freeze = frozen
    page = window.nodes_page
    page.refresh()
    page.select_names(["this-computer"])
    freeze()
    returns_at_once(page.remove_nodes)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=15_000)
    assert window.errors[-1].startswith("Cannot remove this-computer: ") and DEADLINE in window.errors[-1]
    assert engine.catalog.get_node("this-computer")  # nothing lost


def test_the_import_dialog_checks_and_imports_without_waiting_for_the_engine(qtbot, frozen, tmp_path):
    window, engine, freeze = frozen
    config = tmp_path / "config"
    config.write_text("Host box1\n  HostName 127.0.0.1\n  Port 2\n  User lab\n")
    dialog = window.nodes_page.import_nodes()
    dialog.path.setText(str(config))
    dialog.load()
    dialog.set_ticked(["box1"])
    freeze()
    with qtbot.waitSignal(dialog.checkFinished, timeout=15_000) as checked:
        returns_at_once(lambda: qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton))
    assert checked.args[0] is False and DEADLINE in checked.args[1]
    assert DEADLINE in dialog.message.text()
    dialog.no_check.setChecked(True)
    with qtbot.waitSignal(dialog.checkFinished, timeout=15_000) as imported:
        returns_at_once(dialog.run_import)
    assert imported.args[0] is False and DEADLINE in imported.args[1]
    dialog.reject()


def test_the_upload_dialog_does_not_wait_for_the_engine_and_keeps_what_was_typed(qtbot, frozen, tmp_path):
    window, engine, freeze = frozen
    source = tmp_path / "data.bin"
    source.write_bytes(b"x")
    dialog = window.transfers_page.upload("this-computer", [str(source)])
    dialog.destination.setText(str(tmp_path / "inbox"))
    freeze()
    returns_at_once(dialog.accept)
    assert not dialog.ok_button.isEnabled()  # no second submit while the first is out
    qtbot.waitUntil(lambda: DEADLINE in dialog.error.text(), timeout=15_000)
    assert dialog.isVisible() and dialog.ok_button.isEnabled() and dialog.paths() == [str(source)]
    dialog.reject()


def test_asking_who_schedules_never_holds_the_window(qtbot, frozen):
    """The schedules page asks every few seconds, and the app starts scheduling when it opens:
    with the engine frozen both return at once, and the window says it does not know."""
    window, engine, freeze = frozen
    page = window.schedules_page
    qtbot.waitUntil(lambda: page.state[0] == "none", timeout=10_000)  # the first answer, from a live engine
    freeze()
    returns_at_once(window.start_scheduling_in_background)
    returns_at_once(page._tick)
    qtbot.waitUntil(lambda: page.state[0] == "unknown", timeout=15_000)
    assert DEADLINE in page.state_label.text() and window.scheduler_label.text().strip() == "scheduling unknown"


def test_calls_hung_on_a_busy_engine_do_not_hold_up_the_windows_other_work(qtbot, frozen, tmp_path):
    """Six calls wait on a frozen engine with a long deadline (a busy engine, as a user meets
    it); reading a run's log, which needs no engine, still answers at once."""
    from labdeck.gui.workers import run_async

    window, engine, freeze = frozen
    log_file = tmp_path / "node.log"
    log_file.write_text("line one\n")
    freeze(deadline_s=30)
    for _ in range(6):
        run_async(lambda: engine.call("scheduler.running"), None, lambda _exc: None)
    read: list[str] = []
    run_async(log_file.read_text, read.append)
    qtbot.waitUntil(lambda: read == ["line one\n"], timeout=3000)
