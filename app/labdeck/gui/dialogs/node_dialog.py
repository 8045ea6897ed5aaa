"""NodeDialog: add or edit a node. Connection checks run on a worker thread; on first contact
the dialog shows the host key fingerprint inline and the user ticks a box to trust it; every
error (no answer, refused login, changed key) is shown inside the dialog, which stays open.

The dialog never blocks on a nested modal box, so tests drive it like a user would:
fill fields, click Test / Save, wait for ``checkFinished`` / ``saved``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from ...core.errors import InvalidInput
from ...core.interpreters import check_interpreter
from ...core.models import Node, SlurmSettings, Transport
from ...core.tags import check_tags
from .. import node_ops
from ..workers import run_async
from .slurm_fields import SlurmFields
from .winrm_fields import WinrmFields
from ...engine.api import EngineApi

OK_STYLE = "background:#e8f5e9; color:#1b5e20; border:1px solid #a5d6a7; border-radius:4px; padding:6px;"
ERR_STYLE = "background:#ffebee; color:#b71c1c; border:1px solid #ef9a9a; border-radius:4px; padding:6px;"
INFO_STYLE = "background:#e3f2fd; color:#0d47a1; border:1px solid #90caf9; border-radius:4px; padding:6px;"


class NodeDialog(QDialog):
    checkFinished = Signal(bool, str)   # ok, message shown
    saved = Signal(str)                 # node name

    def __init__(self, engine: EngineApi, node: Node | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.editing = node
        self.presented: str | None = None   # fingerprint the host presented in the last check
        self.busy = False
        self.setWindowTitle(f"Edit node {node.name}" if node else "Add node")
        self.setMinimumWidth(520)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. gpu-01")
        self.transport = QComboBox()
        self.transport.addItems(["ssh", "winrm", "slurm", "local"])
        self.transport.setToolTip("slurm: a cluster reached over SSH through its login node; jobs become batch jobs")
        self.host = QLineEdit()
        self.host.setPlaceholderText("host name or IP address")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(22)
        self.user = QLineEdit()
        self.key_file = QLineEdit()
        self.key_file.setPlaceholderText("private key file (optional)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_file, 1)
        key_row.addWidget(browse)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("password, or the key's passphrase — kept in the OS keyring")
        self.winrm = WinrmFields()
        self.winrm.httpsChanged.connect(self._default_port)
        self.via = QLineEdit()  # SSH: jump hosts, as ssh -J / ProxyJump
        self.via.setPlaceholderText("none — or the gateway node(s) it is reached through, e.g. bastion")
        self.via.setToolTip("Jump hosts: nodes already added, first hop first; each has its own host key")
        self.via.textChanged.connect(lambda _text: self._forget_key())
        self.slurm = SlurmFields()
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("comma separated, e.g. gpu, linux-lab")
        self.python = QLineEdit()
        self.python.setPlaceholderText("found on the node: python3; on Windows py -3 or python")
        self.python.setToolTip("What runs the node's .py script steps: a path such as C:\\Python312\\python.exe "
                               "or /opt/conda/bin/python, or a command such as py -3")
        self.name.setToolTip("Letters, digits, '-', '_' or '.'; used in job targets")
        self.tags.setToolTip("Jobs can target nodes by tag: tag:gpu")

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Transport", self.transport)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("User", self.user)
        form.addRow("Key file", key_row)
        self.key_row = key_row
        form.addRow("Through", self.via)
        form.addRow("Password", self.password)
        form.addRow("WinRM", self.winrm)
        form.addRow("Slurm", self.slurm)
        form.addRow("Tags", self.tags)
        form.addRow("Python", self.python)
        self.form = form
        form.setRowVisible(self.winrm, False)
        form.setRowVisible(self.slurm, False)

        self.key_frame = QFrame()
        self.key_frame.setFrameShape(QFrame.Shape.StyledPanel)
        kf = QVBoxLayout(self.key_frame)
        self.key_label = QLabel()
        self.key_label.setWordWrap(True)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.accept_key = QCheckBox("I have checked this fingerprint — trust this host key")
        kf.addWidget(self.key_label)
        kf.addWidget(self.accept_key)
        self.key_frame.hide()

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Connect and log in without saving anything")
        self.test_button.clicked.connect(self.test_connection)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.key_frame)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.transport.currentTextChanged.connect(self._transport_changed)
        for w in (self.host, self.user):
            w.textChanged.connect(self._forget_key)
        self.port.valueChanged.connect(self._forget_key)
        if node:
            self._load(node)

    # ---- fields ---------------------------------------------------------------------------------

    def _load(self, node: Node) -> None:
        self.name.setText(node.name)
        self.name.setReadOnly(True)
        self.transport.setCurrentText(str(node.transport))
        self.host.setText(node.host)
        self.port.setValue(node.effective_port or 22)
        self.user.setText(node.username)
        self.key_file.setText(node.key_file or "")
        self.via.setText(", ".join(node.via))
        self.tags.setText(", ".join(node.tags))
        self.python.setText(node.python)
        if node.transport is Transport.WINRM:
            self.winrm.load(node.winrm)
            self.port.setValue(node.effective_port)
        if node.transport is Transport.SLURM:
            self.slurm.load(node.slurm)
        if node.credential_ref:
            self.password.setPlaceholderText("saved in the keyring — type to replace")
        keys = self.engine.catalog.host_keys(node.name)
        if keys:
            self.presented = next(iter(keys.values()))[1]
            self.accept_key.setChecked(True)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Private key file", self.key_file.text() or "")
        if path:
            self.key_file.setText(path)

    def _transport_changed(self, text: str) -> None:
        remote = text != "local"
        for w in (self.host, self.port, self.user, self.password):
            w.setEnabled(remote)
        self.key_file.setEnabled(text in ("ssh", "slurm"))
        self.form.setRowVisible(self.winrm, text == "winrm")
        self.form.setRowVisible(self.slurm, text == "slurm")
        self.form.setRowVisible(self.key_row, text != "winrm")
        self.form.setRowVisible(self.via, text == "ssh")
        self._default_port()
        self._forget_key()

    def _default_port(self, *_args) -> None:
        """Follow the transport's usual port unless the user typed another one."""
        if self.port.value() in (22, 5985, 5986):
            transport = self.transport.currentText()
            https = self.winrm.https.isChecked()
            self.port.setValue({"ssh": 22, "slurm": 22, "winrm": 5986 if https else 5985}.get(transport,
                                                                                            self.port.value()))

    def _forget_key(self, *_args) -> None:
        if self.editing is None or self._differs_from_saved():
            self.presented = None
            self.accept_key.setChecked(False)
            self.key_frame.hide()

    def _differs_from_saved(self) -> bool:
        n = self.editing
        return (self.host.text().strip(), self.port.value(), self.user.text().strip()) != (n.host, n.effective_port, n.username)

    def node_from_fields(self) -> Node:
        transport = Transport(self.transport.currentText())
        name = self.name.text().strip()
        if not name:
            raise InvalidInput("give the node a name")
        tags = check_tags([t.strip() for t in self.tags.text().split(",") if t.strip()])  # said before connecting
        python = check_interpreter(self.python.text())
        if transport is Transport.LOCAL:
            return Node(name=name, transport=transport, tags=tags, python=python)
        if not self.host.text().strip():
            raise InvalidInput("give the host name or IP address")
        if not self.user.text().strip():
            raise InvalidInput("give the user name to log in as")
        if transport is Transport.WINRM:
            return Node(name=name, transport=transport, host=self.host.text().strip(), port=self.port.value(),
                        username=self.user.text().strip(), tags=tags, winrm=self.winrm.settings(),
                        encoding=self.editing.encoding if self.editing else "utf-8", python=python)
        return Node(name=name, transport=transport, host=self.host.text().strip(), port=self.port.value(),
                    username=self.user.text().strip(), key_file=self.key_file.text().strip() or None, tags=tags,
                    via=[hop.strip() for hop in self.via.text().split(",") if hop.strip()]
                    if transport is Transport.SSH else [],
                    python=python,
                    slurm=self.slurm.settings() if transport is Transport.SLURM else SlurmSettings())

    # ---- messages -------------------------------------------------------------------------------

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setStyleSheet({"ok": OK_STYLE, "error": ERR_STYLE}.get(kind, INFO_STYLE))
        self.message.setText(text)
        self.message.show()

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.test_button.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not busy)
        if busy:
            self.show_message(text)

    def _key_trusted(self) -> bool:
        return self.presented is not None and self.accept_key.isChecked()

    def _show_presented(self, result: node_ops.CheckResult) -> None:
        self.presented = result.fingerprint
        self.key_label.setText(
            f"<b>First contact.</b> The machine presents this {result.key_type} host key:<br>"
            f"<code style='font-size:11pt'>{result.fingerprint}</code><br>"
            "Compare it with the key on the machine (<code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code>) "
            "before trusting it.")
        self.accept_key.setChecked(False)
        self.key_frame.show()

    def _fail(self, exc: Exception) -> None:
        self._set_busy(False)
        text = node_ops.explain(exc)
        self.show_message(text, "error")
        self.checkFinished.emit(False, text)

    # ---- actions --------------------------------------------------------------------------------

    def test_connection(self) -> None:
        try:
            node = self.node_from_fields()
        except InvalidInput as exc:
            return self._fail(exc)
        if node.transport is Transport.LOCAL:
            self.show_message("This computer needs no connection; it is checked when you save.", "ok")
            return self.checkFinished.emit(True, "local")
        if self.editing:
            node.credential_ref = self.editing.credential_ref
        secret = self.password.text() or None
        if node.transport is Transport.WINRM:
            self._set_busy(True, f"Logging in to {node.host}:{node.effective_port} over WinRM…")
            run_async(lambda: node_ops.try_login(self.engine, node, secret, None), self._login_done, self._fail)
        elif self._key_trusted():
            fp = self.presented
            self._set_busy(True, f"Logging in to {node.host}:{node.effective_port}…")
            run_async(lambda: node_ops.try_login(self.engine, node, secret, fp), self._login_done, self._fail)
        else:
            self._set_busy(True, f"Contacting {node.host}:{node.effective_port}…")
            run_async(lambda: node_ops.presented_key(self.engine, node), self._key_done, self._fail)

    def _key_done(self, result: node_ops.CheckResult) -> None:
        self._set_busy(False)
        self._show_presented(result)
        text = "The machine answered. Check its host key above, tick the box, then Test again or Save."
        self.show_message(text)
        self.checkFinished.emit(True, text)

    def _login_done(self, result: node_ops.CheckResult) -> None:
        self._set_busy(False)
        text = f"Connected and logged in as {self.user.text().strip()} — the node is ready to save."
        to_fix = [c for c in result.checks if not c.ok]
        if to_fix:
            text += "<br><br><b>Change on the PC for long jobs:</b><br>" + "<br>".join(
                f"{c.name} = {c.value}: {html.escape(c.advice)}" for c in to_fix)
        self.show_message(text, "ok")
        self.checkFinished.emit(True, text)

    def save(self) -> None:
        if self.busy:
            return
        try:
            node = self.node_from_fields()
        except InvalidInput as exc:
            return self._fail(exc)
        secret = self.password.text() or None
        if node.transport in (Transport.SSH, Transport.SLURM) and not self._key_trusted():
            if self.presented is None:
                return self.test_connection()
            return self._fail(InvalidInput("tick the box to trust the host key shown above, or Cancel"))
        fp = self.presented
        if self.editing:
            self._set_busy(True, "Saving and testing the node…")
            run_async(lambda: node_ops.update_node(self.engine, node, secret, fp), lambda _r: self._saved(node), self._fail)
        else:
            self._set_busy(True, "Adding the node and checking it…")
            run_async(lambda: node_ops.add_node(self.engine, node, secret, fp), lambda _r: self._saved(node), self._fail)

    def _saved(self, node: Node) -> None:
        self._set_busy(False)
        self.show_message(f"Node {node.name} saved.", "ok")
        self.saved.emit(node.name)
        self.accept()
