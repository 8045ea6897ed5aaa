"""Adding nodes through the node dialog against real sshd servers: host key acceptance,
key-file login, and clear in-dialog errors for a closed port, a wrong key, a wrong password."""

from __future__ import annotations

import socket
import subprocess

from PySide6.QtCore import Qt

from tests.support.node_dialog import accept_key, click_test_button, fill_node


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_add_node_with_key_file_accepting_fingerprint(qtbot, window, engine, sshd_node, ssh_user):
    user = sshd_node.user  # key-file login: the test servers authorize the cluster key for root
    page = window.nodes_page
    dialog = page.add_node()
    fill_node(dialog, "gpu-01", sshd_node.host, sshd_node.port, user, str(sshd_node.key_file))
    dialog.tags.setText("gpu, linux-lab")
    accept_key(qtbot, dialog, sshd_node)
    ok, msg = click_test_button(qtbot, dialog)
    assert ok and "logged in" in msg
    assert "gpu-01" not in [n.name for n in engine.catalog.list_nodes()]  # testing saves nothing

    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    node = engine.catalog.get_node("gpu-01")
    assert node.tags == ["gpu", "linux-lab"]
    assert node.probe.get("cpus")
    fps = [fp for _b64, fp in engine.catalog.host_keys("gpu-01").values()]
    assert fps == [sshd_node.host_key_fingerprint]
    names = [page.model.node_at(r).name for r in range(page.model.rowCount())]
    assert "gpu-01" in names
    row = names.index("gpu-01")
    assert page.model.index(row, 4).data() == "idle"
    assert "cpu" in page.model.index(row, 6).data()


def test_save_without_testing_first_shows_fingerprint(qtbot, window, engine, sshd_node, ssh_user):
    user = sshd_node.user  # key-file login: the test servers authorize the cluster key for root
    dialog = window.nodes_page.add_node()
    fill_node(dialog, "n1", sshd_node.host, sshd_node.port, user, str(sshd_node.key_file))
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000):
        dialog.save()  # never trusts a key the user has not seen
    assert dialog.key_frame.isVisible()
    assert "n1" not in [n.name for n in engine.catalog.list_nodes()]
    dialog.accept_key.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        dialog.save()
    assert engine.catalog.get_node("n1").host == sshd_node.host


def test_closed_port_shows_clear_error(qtbot, window, engine):
    dialog = window.nodes_page.add_node()
    port = _closed_port()
    fill_node(dialog, "ghost", "127.0.0.1", port, "root", "/nonexistent")
    ok, msg = click_test_button(qtbot, dialog)
    assert not ok
    assert dialog.message.isVisible()
    assert "Cannot reach the machine" in dialog.message.text()
    assert str(port) in dialog.message.text()
    assert dialog.isVisible()  # the dialog stays open for a fix


def test_wrong_key_shows_login_refused(qtbot, window, engine, sshd_node, ssh_user, tmp_path):
    user = sshd_node.user  # key-file login: the test servers authorize the cluster key for root
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    dialog = window.nodes_page.add_node()
    fill_node(dialog, "wrongkey", sshd_node.host, sshd_node.port, user, str(wrong))
    accept_key(qtbot, dialog, sshd_node)
    ok, msg = click_test_button(qtbot, dialog)
    assert not ok
    assert "Login refused" in dialog.message.text()
    # saving fails the same way and leaves nothing behind
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000) as blocker:
        dialog.save()
    assert blocker.args[0] is False and "Login refused" in blocker.args[1]
    assert "wrongkey" not in [n.name for n in engine.catalog.list_nodes()]


def test_wrong_password_shows_login_refused(qtbot, window, engine, sshd_node, ssh_user):
    user = ssh_user[0] if ssh_user else sshd_node.user
    dialog = window.nodes_page.add_node()
    fill_node(dialog, "pw", sshd_node.host, sshd_node.port, user, "", password="not-the-password")
    accept_key(qtbot, dialog, sshd_node)
    ok, _msg = click_test_button(qtbot, dialog)
    assert not ok
    assert "Login refused" in dialog.message.text()
    assert "not-the-password" not in dialog.message.text()


def test_edit_and_remove_node(qtbot, window, engine, sshd_node, add_node):
    add_node(sshd_node, "box", ["a"])
    page = window.nodes_page
    page.refresh()
    page.select_names(["box"])
    dialog = page.edit_node()
    assert dialog.name.isReadOnly() and dialog.accept_key.isChecked()
    dialog.tags.setText("a, b")
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        dialog.save()
    assert engine.catalog.get_node("box").tags == ["a", "b"]
    page.select_names(["box"])
    window.confirm_answer = False
    page.remove_nodes()
    assert "box" in [n.name for n in engine.catalog.list_nodes()]
    window.confirm_answer = True
    page.remove_nodes()  # the engine removes it off the GUI thread
    # the row leaves the page once the engine has removed it (the page refreshes on that answer)
    qtbot.waitUntil(lambda: "box" not in [page.model.node_at(r).name for r in range(page.model.rowCount())],
                    timeout=10_000)
    assert "box" not in [n.name for n in engine.catalog.list_nodes()]
    assert window.asked == ["Remove nodes", "Remove nodes"]


def test_right_password_logs_in(qtbot, window, engine, sshd_node, ssh_user):
    if not ssh_user:
        import pytest
        pytest.skip("needs root to create a password user")
    user, password = ssh_user
    dialog = window.nodes_page.add_node()
    fill_node(dialog, "pw-ok", sshd_node.host, sshd_node.port, user, "", password=password)
    accept_key(qtbot, dialog, sshd_node)
    ok, msg = click_test_button(qtbot, dialog)
    assert ok, msg
    with qtbot.waitSignal(dialog.saved, timeout=20_000):
        dialog.save()
    node = engine.catalog.get_node("pw-ok")
    assert node.credential_ref  # the password went to the keyring, not the catalog
    assert password not in str(engine.catalog._rows("SELECT * FROM nodes"))


def test_a_tag_a_target_spec_cannot_name_is_refused_before_connecting(qtbot, window, engine):
    dialog = window.nodes_page.add_node()
    fill_node(dialog, "tagged", "127.0.0.1", _closed_port(), "root", "/nonexistent")
    dialog.tags.setText("gpu, x&y")
    ok, msg = click_test_button(qtbot, dialog)
    assert not ok and "invalid tag 'x&y'" in msg and "letters, digits, '-', '_' or '.'" in msg
    assert dialog.message.isVisible() and "invalid tag 'x&y'" in dialog.message.text()
    assert [n.name for n in engine.catalog.list_nodes()] == ["this-computer"]
