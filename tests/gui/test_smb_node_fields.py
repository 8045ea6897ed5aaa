"""The node dialog's SMB fields (in the WinRM part): off by default, saved with the node after
a WinRM test against the WS-Management test server, loaded again when the node is edited, and
a share that cannot work is a clear in-dialog error before anything is saved."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.support.winrm_dialog import click_test, fill_winrm


def test_smb_fields_are_saved_and_loaded_with_the_node(qtbot, window, engine, wsman_server):
    dialog = window.nodes_page.add_node()
    fill_winrm(dialog, wsman_server)
    fields = dialog.winrm
    assert not fields.smb.isChecked() and not fields.smb_share.isEnabled()
    fields.smb.setChecked(True)
    assert fields.smb_share.isEnabled() and fields.smb_share.text() == "C$" and fields.smb_port.value() == 445
    fields.smb_port.setValue(4445)
    fields.smb_home.setText("C:\\Users\\labuser")
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    settings = engine.catalog.get_node("win-01").winrm
    assert (settings.smb, settings.smb_share, settings.smb_port, settings.smb_home) == \
        (True, "C$", 4445, "C:\\Users\\labuser")

    edit = window.nodes_page._open_node_dialog(engine.catalog.get_node("win-01"))
    assert edit.winrm.smb.isChecked() and edit.winrm.smb_port.value() == 4445
    assert edit.winrm.smb_home.text() == "C:\\Users\\labuser"


def test_a_share_without_its_folder_is_a_clear_error(qtbot, window, engine, wsman_server):
    dialog = window.nodes_page.add_node()
    fill_winrm(dialog, wsman_server)
    dialog.winrm.smb.setChecked(True)
    dialog.winrm.smb_share.setText("Lab")
    ok, _message = click_test(qtbot, dialog)
    assert not ok and "give the Windows folder it exposes" in dialog.message.text()
    assert "win-01" not in [n.name for n in engine.catalog.list_nodes()]
