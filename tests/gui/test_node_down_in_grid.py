"""The node grid shows a node the engine found down as "down since HH:MM: <reason>", from the
catalog's record, in a window that was not open when it happened (any process's window)."""

from __future__ import annotations

import html
import re
import socket

from labdeck.core.models import Node, Transport
from labdeck.gui.models.node_model import STATE_COLUMN
from labdeck.store import node_down
from tests.support.waiting import wait_for


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_window_opened_later_shows_the_node_down_since_and_why(qtbot, data_dir):
    from PySide6.QtCore import Qt

    from labdeck.engine.engine_process import EngineProcess
    from labdeck.gui.main_window import MainWindow

    first = EngineProcess(data_dir)  # a CLI or another window: it adds the node; the engine finds it down
    first.catalog.add_node(Node(name="gone", transport=Transport.SSH, host="127.0.0.1", port=closed_port(),
                                username="nobody"))
    first.node_down("gone")  # the engine's watcher probes a node it has not seen at once
    wait_for(lambda: "gone" in node_down.down_nodes(first.catalog), 30, "the engine to record the node down")
    engine = EngineProcess(data_dir)
    window = MainWindow(engine, use_tray=False)
    qtbot.addWidget(window)
    window.show()
    try:
        page = window.nodes_page
        page.refresh()
        row = next(r for r in range(page.model.rowCount()) if page.model.node_at(r).name == "gone")
        index = page.model.index(row, STATE_COLUMN)
        assert page.model.state_of("gone") == "unreachable"
        shown = page.model.data(index, Qt.ItemDataRole.DisplayRole)
        assert re.fullmatch(r"down since \d\d:\d\d", shown), shown
        tip = page.model.data(index, Qt.ItemDataRole.ToolTipRole)
        assert tip.startswith(shown + ": ") and "refused" in tip.lower(), tip
        assert "1 unreachable" in page.summary.text()
        page.select_names(["gone"])  # its detail says it too
        assert html.escape(tip) in page.panel.title.text()
    finally:
        window._quitting = True
        window.close()
        window.bridge.detach()
        engine.close()
        first.close(cancel_running=True, stop_engine=True)
