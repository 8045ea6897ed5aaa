"""The node dialog's WinRM fields against the WS-Management test server: the fields follow the
transport, a test logs in and shows the quotas to change, save stores the WinRM settings, a
wrong password is a clear in-dialog error, and the Prepare panel gives the PowerShell to copy."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from labdeck.core.models import Transport
from tests.support.winrm_dialog import click_test, fill_winrm


def test_winrm_fields_follow_the_transport_and_https(qtbot, window):
    dialog = window.nodes_page.add_node()
    assert not dialog.winrm.isVisibleTo(dialog)
    dialog.transport.setCurrentText("winrm")
    assert dialog.winrm.isVisibleTo(dialog)
    assert not dialog.key_file.isVisibleTo(dialog) and dialog.password.isEnabled()
    assert dialog.port.value() == 5985
    assert not dialog.winrm.verify_cert.isEnabled() and dialog.winrm.verify_cert.isChecked()
    dialog.winrm.https.setChecked(True)
    assert dialog.port.value() == 5986 and dialog.winrm.verify_cert.isEnabled()
    dialog.winrm.verify_cert.setChecked(False)
    dialog.winrm.https.setChecked(False)  # certificate checking is back on without HTTPS
    assert dialog.winrm.verify_cert.isChecked() and dialog.port.value() == 5985
    dialog.port.setValue(15985)
    dialog.winrm.https.setChecked(True)
    assert dialog.port.value() == 15985  # a port the user chose stays
    dialog.transport.setCurrentText("ssh")
    assert not dialog.winrm.isVisibleTo(dialog) and dialog.key_file.isVisibleTo(dialog)


def test_test_and_save_a_winrm_node(qtbot, window, engine, wsman_server):
    wsman_server.quotas["MaxMemoryPerShellMB"] = "512"
    dialog = window.nodes_page.add_node()
    fill_winrm(dialog, wsman_server)
    dialog.winrm.shell.setCurrentText("powershell")
    ok, message = click_test(qtbot, dialog)
    assert ok and "logged in as labuser" in message
    assert "MaxMemoryPerShellMB = 512" in dialog.message.text()
    assert "Set-Item WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB 0" in dialog.message.text()
    assert "win-01" not in [n.name for n in engine.catalog.list_nodes()]  # testing saves nothing

    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    node = engine.catalog.get_node("win-01")
    assert node.transport is Transport.WINRM and node.port == wsman_server.port
    assert (node.winrm.auth, node.winrm.https, node.winrm.verify_cert, node.winrm.shell) == \
        ("basic", False, True, "powershell")
    assert node.os_family == "windows"

    edit = window.nodes_page._open_node_dialog(node)
    assert edit.transport.currentText() == "winrm" and edit.winrm.isVisibleTo(edit)
    assert edit.winrm.auth.currentText() == "basic" and edit.winrm.shell.currentText() == "powershell"
    assert edit.port.value() == wsman_server.port


def test_wrong_winrm_password_is_a_clear_error_in_the_dialog(qtbot, window, engine, wsman_server):
    dialog = window.nodes_page.add_node()
    fill_winrm(dialog, wsman_server, password="not-the-password")
    ok, _message = click_test(qtbot, dialog)
    assert not ok
    assert "Login refused" in dialog.message.text() and "was refused" in dialog.message.text()
    assert "not-the-password" not in dialog.message.text()
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000) as blocker:
        dialog.save()
    assert blocker.args[0] is False
    assert "win-01" not in [n.name for n in engine.catalog.list_nodes()]


def test_prepare_panel_gives_the_powershell_to_copy(qtbot, window):
    dialog = window.nodes_page.add_node()
    dialog.transport.setCurrentText("winrm")
    qtbot.mouseClick(dialog.winrm.prepare_button, Qt.MouseButton.LeftButton)
    prepare = dialog.winrm.prepare_dialog
    assert prepare is not None and prepare.isVisible()
    script = prepare.script.toPlainText()
    assert "Enable-PSRemoting -Force" in script
    assert "New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS" in script
    assert "New-NetFirewallRule" in script and "-LocalPort 5986 -RemoteAddress LocalSubnet" in script
    prepare.allowed.setText("10.0.0.0/24")
    assert "-RemoteAddress 10.0.0.0/24" in prepare.script.toPlainText()
    prepare.allowed.setText("x; Remove-Item C:\\")  # not an address: never pasted into the script
    assert "Remove-Item C:" not in prepare.script.toPlainText()
    qtbot.mouseClick(prepare.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == prepare.script.toPlainText()
