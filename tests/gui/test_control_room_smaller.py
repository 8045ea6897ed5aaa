"""Issue 18, items 6-9: silent failures, the upload dialog, the job editor that jumped while
typing, right-click menus and the smaller things a new user noticed — in the real window."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication

from labdeck.core.models import Job, Step

# ---- 6. no launcher: say so and offer the path; "Europe" is not a zone ---------------------------

def test_open_externally_without_a_launcher_offers_to_copy_the_path(qtbot, window, engine):
    run = engine.start_command("echo hello", "this-computer")
    engine.wait(run.id, 30)
    window.open_run(run.id)
    log = window.run_view.log
    qtbot.waitUntil(lambda: log.path is not None)
    box = log.open_external()            # offscreen has no program to open files with
    assert box is not None and box.isVisible()
    assert str(log.path) in box.informativeText()
    box.copy_button.click()
    assert QGuiApplication.clipboard().text() == str(log.path)


def test_settings_open_folder_without_a_launcher_says_so(qtbot, window):
    page = window.settings_page
    name, button = next(iter(page.open_buttons.items()))
    button.click()
    assert page.launcher_box is not None and page.launcher_box.isVisible()
    assert "Copy path" in [b.text() for b in page.launcher_box.buttons()]


def test_typing_europe_in_the_time_zone_box_gives_a_hint_not_a_traceback(qtbot, engine):
    from labdeck.gui.dialogs.schedule_dialog import ScheduleDialog
    dialog = ScheduleDialog(engine, "hello")
    qtbot.addWidget(dialog)
    dialog.cron.setText("30 2 * * *")
    for text in ("E", "Eu", "Europe", "Europe/", "Europe/Berlin"):  # typed, letter by letter
        dialog.zone.setEditText(text)
        dialog.zone.setCurrentText(text)
        if text == "Europe":
            assert not dialog.message.isHidden() and "unknown time zone 'Europe'" in dialog.message.text()
            assert not dialog.save_button.isEnabled()
    assert dialog.save_button.isEnabled()


# ---- 7. the upload dialog: a list of paths, input never lost ---------------------------------------

def test_upload_dialog_takes_pasted_space_separated_paths_and_stays_open_on_a_mistake(qtbot, window, tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    page = window.transfers_page
    dialog = page.upload()
    assert dialog.minimumWidth() >= 600
    dialog.sources.setText(f"{a} {b}")                  # as copied from a file manager
    dialog.sources.returnPressed.emit()
    assert dialog.paths() == [str(a), str(b)] and dialog.sources.text() == ""
    dialog.sources.setText(str(tmp_path / "typo.bin"))
    dialog.targets.setText("no-such-node")
    dialog.accept()
    assert dialog.isVisible() and "typo.bin" in dialog.error.text()   # still open, the reason shown
    dialog.sources.clear()
    dialog.accept()                                      # the engine refuses the targets: still open
    qtbot.waitUntil(lambda: "no-such-node" in dialog.error.text(), timeout=10_000)  # it answers off the GUI thread
    assert dialog.isVisible()
    assert dialog.paths() == [str(a), str(b)]            # nothing typed was lost
    dialog.reject()


# ---- 8. the job editor does not move while you type -------------------------------------------------

def test_the_steps_section_stays_put_while_the_targets_preview_changes(qtbot, window, engine):
    for i in range(30):
        engine.catalog.add_node(__import__("labdeck.core.models", fromlist=["Node"]).Node(
            name=f"a-rather-long-node-name-{i:02d}", transport="local", tags=["gpu"]))
    dialog = window.jobs_page.new_job()
    dialog.resize(700, 600)
    qtbot.waitExposed(dialog)
    steps = dialog.step_list
    tops = set()
    for text in ("", "t", "tag:", "tag:gpu", "tag:nothing", "all,!", "all", ",,bad,,"):
        dialog.targets.setText(text)
        QGuiApplication.processEvents()
        tops.add(steps.mapTo(dialog, QPoint(0, 0)).y())
    assert len(tops) == 1, tops
    dialog.targets.setText("tag:gpu")
    assert "a-rather-long-node-name-29" in dialog.preview.toolTip()
    dialog.reject()


# ---- 9. right-click menus -----------------------------------------------------------------------------

def _right_click(view, row: int):
    rect = view.visualRect(view.model().index(row, 0))
    view.customContextMenuRequested.emit(rect.center())
    return [a.text() for a in view.context_menu.actions() if not a.isSeparator()], view.context_menu


def test_right_click_on_a_node_selects_it_and_its_menu_acts_on_it(qtbot, window, engine):
    engine.catalog.add_node(__import__("labdeck.core.models", fromlist=["Node"]).Node(name="spare", transport="local"))
    window.refresh_all()
    page = window.nodes_page
    row = next(r for r in range(page.model.rowCount()) if page.model.node_at(r).name == "spare")
    texts, menu = _right_click(page.view, row)
    assert page.selected_names() == ["spare"]
    assert {"Edit…", "Test", "Remove"} <= set(texts)
    next(a for a in menu.actions() if a.text() == "Remove").trigger()  # the engine removes it off the GUI thread
    qtbot.waitUntil(lambda: "spare" not in [n.name for n in engine.catalog.list_nodes()], timeout=10_000)


def test_every_table_has_a_right_click_menu(qtbot, window, engine):
    engine.catalog.add_job(Job(name="menu-job", steps=[Step(command="true")], targets="this-computer"))
    run = engine.start_job("menu-job")
    engine.wait(run.id, 30)
    window.refresh_all()
    window.jobs_page.select_job("menu-job")
    texts, _ = _right_click(window.jobs_page.table, window.jobs_page.table.currentRow())
    assert "Run now" in texts and "Delete" in texts
    window.open_run(run.id)
    texts, _ = _right_click(window.run_view.matrix, 0)
    assert "Cancel node" in texts and "Open the log in another program" in texts
    window.show_page(3)
    texts, menu = _right_click(window.runs_page.view, 0)
    assert texts[0] == f"Open run #{run.id}" and "Only runs of menu-job" in texts
    for view in (window.transfers_page.view, window.queue_page.table):
        assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu


# ---- 9. the smaller things --------------------------------------------------------------------------

def test_a_run_cancelled_because_labdeck_quit_says_so(tmp_path):
    from labdeck.engine.engine import Engine
    engine = Engine(tmp_path / "data")
    run = engine.start_command("sleep 30", "this-computer")
    deadline = time.time() + 20
    while engine.catalog.node_runs(run.id)[0].status.value != "running" and time.time() < deadline:
        time.sleep(0.05)
    engine.close()
    from labdeck.store import paths
    from labdeck.store.catalog import Catalog
    cat = Catalog(paths.catalog_path(tmp_path / "data"))
    done = cat.get_run(run.id)
    assert done.status.value == "cancelled" and "LabDeck quit" in done.note
    cat.close()


def test_informational_notes_are_not_red_like_errors():
    from labdeck.gui.widgets.log_area import INFO_NOTE_COLOR, NOTE_COLOR, note_color
    assert note_color("[labdeck] started detached on gpu-01 (pid 42); it goes on if LabDeck stops") is INFO_NOTE_COLOR
    assert note_color("[labdeck] node unreachable: connection refused") is NOTE_COLOR
    assert note_color("[labdeck] timed out after 10 s; killed the process tree") is NOTE_COLOR


def test_a_search_term_does_not_follow_you_to_the_next_run(qtbot, window, engine):
    first = engine.start_command("echo one", "this-computer")
    second = engine.start_command("echo two", "this-computer")
    for r in (first, second):
        engine.wait(r.id, 30)
    window.open_run(first.id)
    window.run_view.log.search.setText("one")
    window.open_run(second.id)
    assert window.run_view.log.search.text() == ""


def test_queue_page_has_a_title_readable_headers_and_a_labelled_field(window):
    from PySide6.QtWidgets import QLabel
    page = window.queue_page
    headers = [page.table.horizontalHeaderItem(c).text() for c in range(page.table.columnCount())]
    assert all(h == "#" or not h.isupper() for h in headers), headers
    labels = page.findChildren(QLabel)
    assert any("Queue" in label.text() and "<h2>" in label.text() for label in labels)
    assert any(label.buddy() is page.priority for label in labels)


def test_counts_and_dates_read_naturally(window):
    window.refresh_all()
    assert window.nodes_page.summary.text().startswith("1 node ·")
    assert "  1 node  ·" in window.counts_label.text()
    window.runs_page.since.setDate(__import__("PySide6.QtCore", fromlist=["QDate"]).QDate(2026, 11, 26))
    assert window.runs_page.since.text() == "2026-11-26"


def test_the_remote_browser_opens_in_the_real_login_folder_and_lists_again_after_an_upload(qtbot, window, engine,
                                                                                           tmp_path):
    from labdeck.core.transfers import TransferFinished
    engine.test_node("this-computer")           # the probe tells the node's home folder
    home = engine.catalog.get_node("this-computer").probe["home"]
    browser = window.browse_node("this-computer")
    qtbot.waitUntil(lambda: browser.status.text().endswith("entries"), timeout=10_000)
    assert browser.path.text() == home
    browser._uploads.add(99)
    listed: list[str] = []
    browser.listed.connect(listed.append)
    window.bridge.transferEvent.emit(TransferFinished(99, True, False))
    qtbot.waitUntil(lambda: listed == [home], timeout=10_000)
    browser.reject()
