"""Filling the node dialog's WinRM fields and pressing Test, for the GUI tests."""

from __future__ import annotations

from PySide6.QtCore import Qt


def fill_winrm(dialog, server, name="win-01", password=None):
    dialog.name.setText(name)
    dialog.transport.setCurrentText("winrm")
    dialog.host.setText(server.host)
    dialog.port.setValue(server.port)
    dialog.user.setText(server.username)
    dialog.password.setText(password or server.password)
    dialog.winrm.auth.setCurrentText("basic")


def click_test(qtbot, dialog):
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    return blocker.args
