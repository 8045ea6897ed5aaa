"""The Import nodes dialog against real sshd servers: a preview table to tick, host keys shown
after Check, only the ticked nodes imported, and a parse error shown in the dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _ssh_config(path, nodes) -> None:
    path.write_text("".join(f"Host {n.name}\n  HostName {n.host}\n  Port {n.port}\n  User {n.user}\n"
                            f"  IdentityFile {n.key_file}\n" for n in nodes))


def test_preview_tick_check_and_import_only_the_ticked_nodes(window, qtbot, sshd_nodes, tmp_path):
    first, second = sshd_nodes(2)
    config = tmp_path / "config"
    _ssh_config(config, [first, second])
    dialog = window.nodes_page.import_nodes()
    dialog.path.setText(str(config))
    dialog.load()
    assert dialog.table.rowCount() == 2
    assert dialog.table.item(0, 1).text() == first.name and dialog.table.item(0, 7).text() == "new"
    assert not dialog.import_button.isEnabled()  # host keys not seen yet

    dialog.set_ticked([second.name])
    dialog.tags.setText("imported")
    with qtbot.waitSignal(dialog.checkFinished, timeout=20_000) as blocker:
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0], blocker.args[1]
    assert second.host_key_fingerprint in dialog.table.item(1, 8).text()
    assert dialog.table.item(0, 8).text() == "not checked yet"
    assert dialog.import_button.isEnabled() and dialog.import_button.text() == "Import 1 nodes"

    with qtbot.waitSignal(dialog.imported, timeout=30_000) as done:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert done.args[0] == [second.name]
    names = {n.name: n for n in window.engine.catalog.list_nodes()}
    assert second.name in names and first.name not in names
    assert names[second.name].tags == ["imported"]
    assert window.engine.catalog.host_keys(second.name)["ssh-ed25519"][1] == second.host_key_fingerprint
    assert dialog.table.item(1, 7).text() == "exists: kept" and dialog.ticked() == []
    qtbot.waitUntil(lambda: any(window.nodes_page.model.node_at(r).name == second.name
                                for r in range(window.nodes_page.model.rowCount())), timeout=5000)
    dialog.reject()


def test_a_file_that_cannot_be_read_is_shown_with_its_line(window, tmp_path):
    broken = tmp_path / "hosts.ini"
    broken.write_text("[lab]\nbox ansible_password=x\n")
    dialog = window.nodes_page.import_nodes()
    dialog.path.setText(str(broken))
    dialog.load()
    assert "hosts.ini:2:" in dialog.message.text() and "--password-stdin" in dialog.message.text()
    assert dialog.table.rowCount() == 0 and not dialog.import_button.isEnabled()
    dialog.reject()
