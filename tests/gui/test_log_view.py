"""The huge-log viewer on a generated multi-MB file: random line access matches the file,
search jumps to the right line (next, previous, wrap), the tail is followed, copy works."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from labdeck.gui.widgets.log_index import BLOCK, LineIndex
from labdeck.gui.widgets.log_view import LogView

N = 120_000
MARK = 87_654


@pytest.fixture
def big_log(tmp_path):
    path = tmp_path / "big.log"
    rnd = random.Random(7)
    lines = []
    for i in range(N):
        pad = "x" * rnd.randrange(0, 90)
        lines.append(f"line {i:06d} {'NEEDLE here ' if i in (1234, MARK) else ''}{pad}")
    lines[5000] = "L" * (3 * BLOCK)          # a line longer than an index block
    lines[5001] = "crlf line\r"
    lines[5002] = "bad bytes \udcff"
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    path.write_bytes(data)
    return path, lines


def test_index_matches_file(qtbot, big_log):
    path, lines = big_log
    assert path.stat().st_size > 5 * 2**20
    index = LineIndex(path)
    try:
        qtbot.waitUntil(lambda: index.rows() == N, timeout=10_000)
        for k in [0, 1, 4999, 5001, N - 1] + random.Random(1).sample(range(N), 300):
            expected = lines[k].rstrip("\r") if k != 5002 else "bad bytes \ufffd"
            assert index.line(k) == expected, k
        assert index.line(5000).startswith("L" * 100) and index.line(5000).endswith("…")
        assert index.line_of_offset(index.offset_of_line(MARK)) == MARK
    finally:
        index.close()


def test_view_search_and_tail(qtbot, big_log):
    path, lines = big_log
    view = LogView(poll_ms=50)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    view.set_path(path)
    qtbot.waitUntil(lambda: view.area.rows == N, timeout=10_000)
    # following the tail: the last lines are on screen
    area = view.area
    assert area.first_row() == N - area.visible_rows()

    view.search.setText("needle")
    area.goto_row(0)
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_next()
    assert hit.args == [1234]
    assert area.first_row() <= 1234 < area.first_row() + area.visible_rows()
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_next()
    assert hit.args == [MARK]
    assert "line 87655" in view.status.text()
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_next()  # wraps to the first match
    assert hit.args == [1234] and "wrapped" in view.status.text()
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_previous()  # wraps backwards to the last match
    assert hit.args == [MARK]
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_previous()
    assert hit.args == [1234]
    view.search.setText("no such text anywhere")
    with qtbot.waitSignal(view.searchFinished, timeout=10_000) as hit:
        view.find_next()
    assert hit.args == [None] and "no match" in view.status.text()

    # copy the selected lines
    area.select_rows(10, 12)
    QGuiApplication.clipboard().setText("")
    qtbot.keyClick(area, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "\n".join(lines[10:13])

    # tail: turn following back on and append lines
    view.follow_box.setChecked(True)
    with open(path, "a") as f:
        f.write("appended one\nappended two\n")
    view.nudge()
    qtbot.waitUntil(lambda: area.rows == N + 2, timeout=5000)
    assert view.index.line(N + 1) == "appended two"
    assert area.first_row() == N + 2 - area.visible_rows()
    # a partial last line shows, and is completed in place
    with open(path, "a") as f:
        f.write("partial")
    qtbot.waitUntil(lambda: area.rows == N + 3, timeout=5000)
    assert view.index.line(N + 2) == "partial"
    with open(path, "a") as f:
        f.write(" now complete\n")
    qtbot.waitUntil(lambda: view.index.line(N + 2) == "partial now complete", timeout=5000)
    view.close_index()


def test_missing_then_created_and_truncated(qtbot, tmp_path):
    path = tmp_path / "later.log"
    view = LogView(poll_ms=50)
    qtbot.addWidget(view)
    view.set_path(path)
    qtbot.wait(200)
    assert view.area.rows == 0
    path.write_text("a\nb\n")
    qtbot.waitUntil(lambda: view.area.rows == 2, timeout=5000)
    path.write_text("only\n")  # truncated and rewritten
    qtbot.waitUntil(lambda: view.area.rows == 1 and view.index.line(0) == "only", timeout=5000)
    view.close_index()
