"""What a new user hit on the common path (issue 18, items 1-3 and 5): each test shows the
behaviour a person would notice, in the real MainWindow over a real engine and catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from labdeck.core.models import Job, Step
from labdeck.core.transfers import TransferNodeFinished, TransferProgress, TransferQueued

ROOT = Path(__file__).resolve().parents[2]


# ---- 1. transfer progress bars fill from the left -----------------------------------------------

def _paint_cell(view, index, width=200, height=24) -> QImage:
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, width, height)
    option.palette = view.palette()
    option.widget = view
    option.state = option.state  # as the view passes it: no orientation flag of its own
    painter = QPainter(image)
    view.itemDelegateForColumn(index.column()).paint(painter, option, index)
    painter.end()
    return image


def _is_fill(color: QColor, highlight: QColor) -> bool:
    return abs(color.red() - highlight.red()) + abs(color.green() - highlight.green()) + \
        abs(color.blue() - highlight.blue()) < 90


def test_a_progress_bar_at_41_percent_fills_the_left_41_percent_of_the_cell(window):
    page = window.transfers_page
    model = page.model
    model.on_event(TransferQueued(7, "up", "upload data.bin", ("lab-1",)))
    model.on_event(TransferProgress(7, "lab-1", "data.bin", 41, 100, 41, 100, 0, 1, 1000.0))
    from labdeck.gui.models.transfer_model import NODE_PCT
    image = _paint_cell(page.view, model.index(0, NODE_PCT))
    highlight = page.view.palette().highlight().color()
    top_band = image.height() // 4 + 1     # above the label, below the frame
    assert _is_fill(image.pixelColor(int(image.width() * 0.15), top_band), highlight)   # filled on the left ...
    assert not _is_fill(image.pixelColor(int(image.width() * 0.85), top_band), highlight)  # ... empty on the right
    assert not _is_fill(image.pixelColor(int(image.width() * 0.85), image.height() - 5), highlight)  # no bottom band


# ---- 5. a failed transfer row: no Python error, red, and a bar that does not look done ---------

def test_a_failed_transfer_row_is_red_and_says_where_it_stopped(window):
    from labdeck.gui.models.transfer_model import NODE_PCT, STATE_ROLE
    model = window.transfers_page.model
    model.on_event(TransferQueued(8, "up", "upload data.bin", ("lab-2",)))
    model.on_event(TransferProgress(8, "lab-2", "data.bin", 99, 100, 99, 100, 0, 1, 1000.0))
    model.on_event(TransferNodeFinished(8, "lab-2", False, "node 'lab-2': writing data.bin failed (disk full)"))
    row = model.index(0, NODE_PCT)
    assert model.data(row).startswith("failed at 99%")
    assert model.data(row, STATE_ROLE) == "failed"
    assert QColor(model.data(model.index(0, 8), Qt.ItemDataRole.ForegroundRole)).name() == "#e53935"
    image = _paint_cell(window.transfers_page.view, row)
    blue = window.transfers_page.view.palette().highlight().color()
    assert not _is_fill(image.pixelColor(int(image.width() * 0.5), image.height() // 4 + 1), blue)


def test_a_node_writer_that_dies_after_the_digest_mark_gives_no_index_error():
    from labdeck.executors.ssh.streams import DIGEST_MARK, parse_digest
    assert parse_digest(f"partial output {DIGEST_MARK}") == ""          # was: IndexError, "list index out of range"
    assert parse_digest(f"{DIGEST_MARK} ABCDEF\n") == "abcdef"
    assert parse_digest("no mark at all") == ""


# ---- 2. F5 refreshes, and changes made from the CLI appear by themselves ------------------------

def _another_process_adds_a_job(engine, name: str) -> None:
    """Through a second connection to the same file, as ``labdeck job add`` beside the window does."""
    from labdeck.store.catalog import Catalog
    other = Catalog(engine.catalog.path)
    try:
        other.add_job(Job(name=name, steps=[Step(command="echo hi")], targets="all"))
    finally:
        other.close()


def _job_names(window) -> list[str]:
    table = window.jobs_page.table
    return [table.item(r, 0).text() for r in range(table.rowCount())]


def test_f5_refreshes_the_window(qtbot, window, engine):
    if hasattr(window, "watcher"):
        window.watcher.stop()  # only the key may refresh here
    window.show_page(1)
    _another_process_adds_a_job(engine, "added-beside")
    assert "added-beside" not in _job_names(window)
    window.activateWindow()
    qtbot.keyClick(window.jobs_page.table, Qt.Key.Key_F5)
    assert "added-beside" in _job_names(window)


def test_a_job_added_by_the_cli_appears_without_touching_the_window(qtbot, window, engine):
    window.show_page(1)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "app"))
    subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(engine.data_dir), "job", "add",
                    "--command", "echo hi", "--targets", "all", "from-the-cli"],
                   env=env, check=True, capture_output=True, timeout=120)
    qtbot.waitUntil(lambda: "from-the-cli" in _job_names(window), timeout=5000)


def test_relative_times_move_on_while_nothing_happens(qtbot, window, engine):
    import time
    engine.catalog.mark_node_seen("this-computer", time.time() - 30)
    window.refresh_all()
    model = window.nodes_page.model
    assert model.data(model.index(0, 5)) == "just now"
    engine.catalog.mark_node_seen("this-computer", time.time() - 600)  # as if ten minutes went by (same connection:
    window.watcher.poll()                                              # no change another process would signal)
    window.watcher.tick.emit()
    assert model.data(model.index(0, 5)) == "10 min ago"


# ---- 3. small screens and 1.5x scaling ------------------------------------------------------------

def test_every_page_fits_a_1024x640_screen_and_150_percent_scaling_of_1600x1000(window):
    frame = 16
    for i in range(window.stack.count()):
        window.show_page(i)
        need = window.minimumSizeHint()
        assert need.width() + frame <= 1024, (window.stack.widget(i).__class__.__name__, need)
        assert need.width() + frame <= 1600 / 1.5, need
        assert need.height() + 48 <= 640, need


def test_the_first_size_is_clamped_to_the_screen(window):
    from PySide6.QtCore import QSize
    from labdeck.gui.screen_fit import first_size
    free = window.screen().availableGeometry().size()
    assert window.width() <= free.width() and window.height() <= free.height()   # the window as it opened
    size = first_size(window)
    assert size == QSize(1280, 800).boundedTo(free - QSize(16, 48)).expandedTo(QSize(480, 320))


# ---- 4. a node that comes back is shown as back, whichever process saw it ----------------------

def test_an_unreachable_node_that_answers_a_probe_elsewhere_is_idle_again(qtbot, window, engine):
    import socket
    import time

    from labdeck.core.models import Node, Transport
    from labdeck.store.catalog import Catalog
    from tests.gui.conftest import wait_run_final

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]            # nothing listens there
    engine.add_node(Node(name="flaky-pc", transport=Transport.SSH, host="127.0.0.1", port=port, username="lab"),
                    check=False)
    run = engine.start_command("true", "flaky-pc")
    wait_run_final(qtbot, engine, run.id)
    window.refresh_all()
    model = window.nodes_page.model
    assert model.state_of("flaky-pc") == "unreachable"
    time.sleep(0.05)
    other = Catalog(engine.catalog.path)     # the engine process's periodic probe, or `labdeck node test`
    other.mark_node_seen("flaky-pc", time.time(), probe={"cpus": 4, "cpu_pct": 12})
    other.close()
    qtbot.waitUntil(lambda: model.state_of("flaky-pc") == "idle", timeout=5000)
