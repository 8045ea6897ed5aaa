"""The Transfers page, the remote file browser and dropping files onto nodes, in the real
MainWindow against real sshd nodes (logged in as the /bin/sh password user)."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from labdeck.core.transfers import FileOutcome


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def remote_home(ssh_user):
    """A fresh folder in the login folder of the user the nodes log in as (removed after)."""
    home = Path(pwd.getpwnam(ssh_user[0]).pw_dir) if ssh_user else Path.home()
    name = f"labdeck-gui-{uuid.uuid4().hex[:8]}"
    yield name, home / name
    shutil.rmtree(home / name, ignore_errors=True)


def _rows_done(page, transfer_id: int, count: int) -> bool:
    rows = [r for r in page.model.rows if r.transfer_id == transfer_id]
    return len(rows) == count and all(r.state in ("done", "failed", "cancelled") for r in rows)


def _last_transfer_id(window) -> int:
    return max(r.transfer_id for r in window.transfers_page.model.rows)


def test_upload_from_the_page_shows_progress_per_node_and_lands_verified(qtbot, window, engine, sshd_nodes,
                                                                          add_node, tmp_path, remote_home):
    nodes = sshd_nodes(2)
    for i, s in enumerate(nodes):
        add_node(s, name=f"lab-{i}", tags=["lab"])
    src = tmp_path / "dataset.bin"
    src.write_bytes(os.urandom(30_000_000))
    page = window.transfers_page
    seen: set[int] = set()
    page.model.dataChanged.connect(lambda top, _b: seen.add(page.model.rows[top.row()].node_pct))

    window.show_page(window.stack.indexOf(page))
    dialog = page.upload()
    dialog.sources.setText(str(src))
    dialog.targets.setText("tag:lab")
    dialog.destination.setText(f"{remote_home[0]}/${{node.name}}")
    dialog.accept()
    qtbot.waitUntil(lambda: bool(page.model.rows) and _rows_done(page, _last_transfer_id(window), 2), timeout=60_000)

    rows = {r.node: r for r in page.model.rows}
    assert {rows["lab-0"].state, rows["lab-1"].state} == {"done"}
    assert rows["lab-0"].node_pct == 100 and rows["lab-0"].files == "1/1 files"
    assert any(0 < pct < 100 for pct in seen), seen  # the bars moved on the way
    for name in ("lab-0", "lab-1"):
        assert _sha(remote_home[1] / name / "dataset.bin") == _sha(src)
    assert "0 going · 0 failed · 2 done" in page.summary.text()


def test_cancel_keeps_the_part_and_retry_resumes(qtbot, window, engine, sshd_node, add_node, tmp_path, remote_home):
    add_node(sshd_node, name="lab-0")
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(150_000_000))
    page = window.transfers_page
    dialog = page.upload("lab-0", [str(src)])
    dialog.destination.setText(remote_home[0])
    dialog.accept()
    qtbot.waitUntil(lambda: bool(page.model.rows) and page.model.rows[0].node_pct >= 5, timeout=30_000)
    page.view.selectRow(0)
    assert page.buttons["cancel"].isEnabled()
    qtbot.mouseClick(page.buttons["cancel"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rows[0].state == "cancelled", timeout=30_000)
    assert "cancelled" in page.model.rows[0].error
    part = remote_home[1] / "big.bin.lab-0.labdeck-part"  # one part file per writing node
    assert part.exists() and not (remote_home[1] / "big.bin").exists()

    page.view.selectRow(0)
    assert page.buttons["retry"].isEnabled()
    qtbot.mouseClick(page.buttons["retry"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(page.model.rows) == 2 and page.model.rows[1].state == "done", timeout=60_000)
    retried = engine.transfers.get(page.model.rows[1].transfer_id)
    assert retried.results["lab-0"].files[0].outcome is FileOutcome.RESUMED
    assert _sha(remote_home[1] / "big.bin") == _sha(src) and not part.exists()


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")  # Qt 6 has only this constructor
def test_dropping_files_on_a_node_opens_the_upload_for_that_node(qtbot, window, engine, sshd_nodes, add_node,
                                                                  tmp_path, remote_home):
    nodes = sshd_nodes(2)
    for i, s in enumerate(nodes):
        add_node(s, name=f"lab-{i}")
    window.refresh_all()
    src = tmp_path / "notes.txt"
    src.write_text("dropped")
    grid = window.nodes_page.view
    row = [window.nodes_page.model.node_at(r).name for r in range(window.nodes_page.model.rowCount())].index("lab-1")
    pos = grid.visualRect(window.nodes_page.model.index(row, 0)).center()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(src))])
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(grid.viewport(), enter)  # as a real drag does: enter, then drop
    assert enter.isAccepted()
    QApplication.sendEvent(grid.viewport(), drop)

    page = window.transfers_page
    assert window.stack.currentWidget() is page
    dialog = page.dialog
    assert dialog.targets.text() == "lab-1" and dialog.paths() == [str(src)]
    dialog.destination.setText(remote_home[0])
    dialog.accept()
    qtbot.waitUntil(lambda: bool(page.model.rows) and page.model.rows[0].state == "done", timeout=30_000)
    assert (remote_home[1] / "notes.txt").read_text() == "dropped"
    assert [r.node for r in page.model.rows] == ["lab-1"]


def test_remote_browser_lists_downloads_uploads_and_deletes_with_confirmation(qtbot, window, engine, sshd_node,
                                                                             add_node, tmp_path, remote_home):
    add_node(sshd_node, name="lab-0")
    window.refresh_all()
    upload = tmp_path / "upload.txt"
    upload.write_text("from the desk")
    seed = tmp_path / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "result.csv").write_text("a,b\n")
    (seed / "sub" / "part-0.log").write_text("log")
    page = window.transfers_page
    first = page.start(_put(seed, remote_home[0]))
    qtbot.waitUntil(lambda: first.done.is_set(), timeout=30_000)
    assert first.ok, first.results

    window.nodes_page.select_names(["lab-0"])
    with qtbot.waitSignal(window.nodes_page.browseRequested):
        qtbot.mouseClick(window.nodes_page.buttons["files"], Qt.MouseButton.LeftButton)
    browser = window.browser
    folder = f"{remote_home[0]}/seed"
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        browser.go(folder)
    names = [browser.table.item(r, 0).text() for r in range(browser.table.rowCount())]
    assert names == ["result.csv", "sub/"]

    browser.table.selectRow(0)
    browser.ask_folder = lambda: str(tmp_path / "downloads")
    with qtbot.waitSignal(browser.transferStarted, timeout=10_000) as started:
        qtbot.mouseClick(browser.buttons["download"], Qt.MouseButton.LeftButton)
    assert engine.transfers.wait(started.args[0], 30)
    assert (tmp_path / "downloads" / "lab-0" / "result.csv").read_text() == "a,b\n"

    browser.ask_files = lambda: [str(upload)]
    with qtbot.waitSignal(browser.transferStarted, timeout=10_000) as started:
        qtbot.mouseClick(browser.buttons["upload"], Qt.MouseButton.LeftButton)
    assert engine.transfers.wait(started.args[0], 30)
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        qtbot.mouseClick(browser.buttons["refresh"], Qt.MouseButton.LeftButton)
    names = [browser.table.item(r, 0).text() for r in range(browser.table.rowCount())]
    assert names == ["result.csv", "sub/", "upload.txt"]

    asked = []
    browser.confirm = lambda _p, title, text: asked.append(text) or False
    browser.table.selectRow(2)
    qtbot.mouseClick(browser.buttons["delete"], Qt.MouseButton.LeftButton)
    assert "upload.txt" in asked[0] and (remote_home[1] / "seed" / "upload.txt").exists()
    browser.confirm = lambda _p, title, text: True
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        qtbot.mouseClick(browser.buttons["delete"], Qt.MouseButton.LeftButton)
    assert not (remote_home[1] / "seed" / "upload.txt").exists()
    assert [browser.table.item(r, 0).text() for r in range(browser.table.rowCount())] == ["result.csv", "sub/"]

    with qtbot.waitSignal(browser.failed, timeout=10_000) as failed:
        browser.go(f"{remote_home[0]}/no-such-folder")
    assert "does not exist" in failed.args[0]


def _put(source: Path, remote: str):
    from labdeck.core.transfers import Direction
    from labdeck.engine.transfers import TransferRequest
    return TransferRequest(Direction.PUT, [str(source)], remote, "lab-0")


def test_the_job_editor_makes_put_and_get_steps(qtbot, window, engine):
    from labdeck.core.models import StepKind

    dialog = window.jobs_page.new_job()
    dialog.name.setText("with-files")
    dialog.targets.setText("all")
    dialog.step_kind.setCurrentText("put")
    dialog.save()
    assert "needs both From and To" in dialog.message.text()
    dialog.source.setText("~/inputs/${node.name}.csv")
    dialog.destination.setText("work/in")
    dialog.add_step()
    dialog.command.setText("./train.sh")
    dialog.add_step()
    dialog.step_kind.setCurrentText("get")
    dialog.source.setText("work/out/*.ckpt")
    dialog.destination.setText("~/results")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()
    steps = engine.catalog.get_job("with-files").steps
    assert [(s.kind, s.source, s.destination) for s in steps if s.kind is not StepKind.COMMAND] == [
        (StepKind.PUT, "~/inputs/${node.name}.csv", "work/in"), (StepKind.GET, "work/out/*.ckpt", "~/results")]
    assert steps[1].command == "./train.sh"
    window.jobs_page.select_job("with-files")
    reopened = window.jobs_page.edit_job()
    reopened.step_list.setCurrentRow(2)
    assert reopened.source.text() == "work/out/*.ckpt" and reopened.step_kind.currentText() == "get"
    assert reopened.body.currentIndex() == 2


def test_transfers_and_the_file_browser_work_over_the_engine_process(qtbot, data_dir, sshd_node, ssh_user,
                                                                     tmp_path, remote_home):
    """The app's own set-up: transfers run in the engine's process, the browser lists from here."""
    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow
    from tests.conftest import add_sshd_node

    engine = EngineProcess(data_dir)
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    window.show()
    try:
        extra = {"username": ssh_user[0], "key_file": None, "secret": ssh_user[1]} if ssh_user else {}
        add_sshd_node(engine, sshd_node, name="lab-0", **extra)
        window.refresh_all()
        seed = tmp_path / "seed"
        seed.mkdir()
        (seed / "result.csv").write_text("a,b\n")
        page = window.transfers_page
        started = page.start(_put(seed, remote_home[0]))
        assert started.nodes == ["lab-0"]
        qtbot.waitUntil(lambda: _rows_done(page, started.id, 1), timeout=30_000)
        assert [r.state for r in page.model.rows if r.transfer_id == started.id] == ["done"]
        assert (remote_home[1] / "seed" / "result.csv").read_text() == "a,b\n"

        window.nodes_page.select_names(["lab-0"])
        with qtbot.waitSignal(window.nodes_page.browseRequested):
            qtbot.mouseClick(window.nodes_page.buttons["files"], Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(window.browser.listed, timeout=10_000):
            window.browser.go(f"{remote_home[0]}/seed")
        assert window.browser.table.item(0, 0).text() == "result.csv"
    finally:
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close()
