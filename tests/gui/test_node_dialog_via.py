"""The node dialog with a jump host, against real sshd servers: a machine reachable only
through a gateway (tests/integration/test_jump_hosts.py's network namespace) shows its host
key, logs in and is saved with the gateway; editing it keeps the gateway."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import add_sshd_node
from tests.gui.test_node_dialog import _accept_key, _fill, _test
from tests.integration.test_jump_hosts import behind_gateway  # noqa: F401 - the fixture


def test_add_a_node_through_a_gateway(qtbot, window, engine, behind_gateway):  # noqa: F811
    gateway, (target, _other) = behind_gateway
    add_sshd_node(engine, gateway, name="gw")
    dialog = window.nodes_page.add_node()
    _fill(dialog, "inner", target.host, target.port, target.user, str(target.key_file))
    assert dialog.via.isVisible()
    dialog.via.setText("gw")
    _accept_key(qtbot, dialog, target)  # the key is fetched through the gateway
    ok, message = _test(qtbot, dialog)
    assert ok and "logged in" in message
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    node = engine.catalog.get_node("inner")
    assert node.via == ["gw"] and node.probe.get("cpus")

    window.nodes_page.select_names(["inner"])
    editor = window.nodes_page.edit_node()
    assert editor.via.text() == "gw"
    editor.reject()
