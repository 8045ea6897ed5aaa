"""Filling the node dialog, pressing Test and accepting the host key, for the GUI tests."""

from __future__ import annotations

from PySide6.QtCore import Qt


def fill_node(dialog, name, host, port, user, key_file="", password=""):
    dialog.name.setText(name)
    dialog.transport.setCurrentText("ssh")
    dialog.host.setText(host)
    dialog.port.setValue(port)
    dialog.user.setText(user)
    dialog.key_file.setText(key_file)
    dialog.password.setText(password)


def click_test_button(qtbot, dialog):
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    return blocker.args


def accept_key(qtbot, dialog, sshd):
    ok, _msg = click_test_button(qtbot, dialog)
    assert ok
    assert dialog.key_frame.isVisible()
    assert sshd.host_key_fingerprint in dialog.key_label.text()
    dialog.accept_key.setChecked(True)
