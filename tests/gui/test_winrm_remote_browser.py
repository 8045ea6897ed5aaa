"""The remote file browser on a Windows node, in the real MainWindow, over the WS-Management
test server: list, go up, download, and delete files and folders with a confirmation."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import add_winrm_node


def _names(browser) -> list[str]:
    return [browser.table.item(r, 0).text() for r in range(browser.table.rowCount())]


def test_remote_browser_on_a_winrm_node_lists_downloads_and_deletes(qtbot, window, engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    seed = wsman_server.root / "profile" / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "result.csv").write_text("a,b\n")
    (seed / "sub" / "part-0.log").write_text("log")
    (seed / "old.txt").write_text("old")
    window.refresh_all()

    window.nodes_page.select_names(["win1"])
    with qtbot.waitSignal(window.nodes_page.browseRequested):
        qtbot.mouseClick(window.nodes_page.buttons["files"], Qt.MouseButton.LeftButton)
    browser = window.browser
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        browser.go("seed")
    assert _names(browser) == ["old.txt", "result.csv", "sub/"]
    assert browser.table.item(1, 1).text() != "" and browser.table.item(2, 3).text() == "folder"

    browser.table.selectRow(1)
    browser.ask_folder = lambda: str(tmp_path / "downloads")
    with qtbot.waitSignal(browser.transferStarted, timeout=10_000) as started:
        qtbot.mouseClick(browser.buttons["download"], Qt.MouseButton.LeftButton)
    assert engine.transfers.wait(started.args[0], 30)
    assert (tmp_path / "downloads" / "win1" / "result.csv").read_text() == "a,b\n"

    asked = []
    browser.confirm = lambda _p, title, text: asked.append(text) or False
    browser.table.selectRow(0)
    qtbot.mouseClick(browser.buttons["delete"], Qt.MouseButton.LeftButton)
    assert "old.txt" in asked[0] and (seed / "old.txt").exists()
    browser.confirm = lambda _p, title, text: True
    browser.table.selectRow(0)
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        qtbot.mouseClick(browser.buttons["delete"], Qt.MouseButton.LeftButton)
    assert not (seed / "old.txt").exists()
    assert _names(browser) == ["result.csv", "sub/"]

    browser.table.selectRow(1)
    with qtbot.waitSignal(browser.listed, timeout=10_000):
        qtbot.mouseClick(browser.buttons["delete"], Qt.MouseButton.LeftButton)
    assert not (seed / "sub").exists() and _names(browser) == ["result.csv"]

    with qtbot.waitSignal(browser.listed, timeout=10_000) as listed:
        browser.go_up()
    assert listed.args[0] == "." and "seed/" in _names(browser)

    with qtbot.waitSignal(browser.failed, timeout=10_000) as failed:
        browser.go("no-such-folder")
    assert "does not exist" in failed.args[0]
