"""The WinRM part of the node dialog (authentication, HTTPS, certificate check, command shell,
file transfers over SMB) and the "Prepare this Windows PC" dialog with the PowerShell to run on
the PC, ready to copy."""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from ...core.models import WINRM_AUTHS, WinrmSettings
from ...executors.winrm.setup import HTTPS_PORT, prepare_windows_script

AUTH_HELP = {
    "ntlm": "NTLM: a local or domain account; messages are encrypted even over HTTP",
    "basic": "Basic: local accounts only, and must be enabled on the PC; use with HTTPS",
    "kerberos": "Kerberos: domain accounts, this computer joined to the domain (needs pywinrm[kerberos])",
    "credssp": "CredSSP: domain accounts that must reach network shares (needs pywinrm[credssp])",
}


class WinrmFields(QWidget):
    """Edits a node's WinrmSettings. ``httpsChanged`` lets the dialog move the default port."""
    httpsChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.auth = QComboBox()
        self.auth.addItems(WINRM_AUTHS)
        self.auth.currentTextChanged.connect(lambda a: self.auth.setToolTip(AUTH_HELP[a]))
        self.auth.setToolTip(AUTH_HELP["ntlm"])
        self.https = QCheckBox("HTTPS (port 5986)")
        self.verify_cert = QCheckBox("Check the certificate")
        self.verify_cert.setChecked(True)
        self.verify_cert.setEnabled(False)
        self.verify_cert.setToolTip("Untick only for a self-signed certificate you trust (e.g. the one the "
                                    "Prepare script makes), or import that certificate on this computer instead")
        self.https.toggled.connect(self._https_toggled)
        self.shell = QComboBox()
        self.shell.addItems(["cmd", "powershell"])
        self.shell.setToolTip("The shell command steps are written for; option values are quoted for it")
        self.prepare_button = QPushButton("Prepare this Windows PC…")
        self.prepare_button.setToolTip("The PowerShell to run once on the PC: WinRM over HTTPS and a firewall rule")
        self.prepare_button.clicked.connect(self.show_prepare)
        self.prepare_dialog: PrepareWindowsDialog | None = None

        top = QHBoxLayout()
        top.addWidget(QLabel("Auth"))
        top.addWidget(self.auth)
        top.addWidget(QLabel("Shell"))
        top.addWidget(self.shell)
        top.addStretch(1)
        top.addWidget(self.prepare_button)
        second = QHBoxLayout()
        second.addWidget(self.https)
        second.addWidget(self.verify_cert)
        second.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addLayout(self._smb_rows())

    def _smb_rows(self) -> QVBoxLayout:
        self.smb = QCheckBox("Files over SMB")
        self.smb.setToolTip("Copy files through the PC's share when it answers (much faster than through "
                            "PowerShell), with the same login; otherwise through PowerShell")
        self.smb_share = QLineEdit("C$")
        self.smb_share.setToolTip("C$, a drive's admin share, reaches every drive (needs an administrator "
                                  "account); another share needs the folder it exposes")
        self.smb_port = QSpinBox()
        self.smb_port.setRange(1, 65535)
        self.smb_port.setValue(445)
        self.smb_root = QLineEdit()
        self.smb_root.setPlaceholderText("e.g. D:\\Lab; not for C$")
        self.smb_root.setToolTip("The Windows folder a share other than a drive's X$ exposes")
        self.smb_home = QLineEdit()
        self.smb_home.setPlaceholderText("the profile folder the PC reports")
        self.smb_home.setToolTip("Where relative paths start, e.g. C:\\Users\\alice")
        first, second = QHBoxLayout(), QHBoxLayout()
        for widget in (self.smb, QLabel("Share"), self.smb_share, QLabel("Port"), self.smb_port):
            first.addWidget(widget)
        first.addStretch(1)
        for widget in (QLabel("Share folder"), self.smb_root, QLabel("Home"), self.smb_home):
            second.addWidget(widget)
        self.smb.toggled.connect(self._smb_toggled)
        self._smb_toggled(False)
        rows = QVBoxLayout()
        rows.addLayout(first)
        rows.addLayout(second)
        return rows

    def _smb_toggled(self, on: bool) -> None:
        for widget in (self.smb_share, self.smb_port, self.smb_root, self.smb_home):
            widget.setEnabled(on)

    def _https_toggled(self, on: bool) -> None:
        self.verify_cert.setEnabled(on)
        if not on:
            self.verify_cert.setChecked(True)
        self.httpsChanged.emit(on)

    def settings(self) -> WinrmSettings:
        return WinrmSettings(auth=self.auth.currentText(), https=self.https.isChecked(),
                             verify_cert=self.verify_cert.isChecked(), shell=self.shell.currentText(),
                             smb=self.smb.isChecked(), smb_share=self.smb_share.text().strip() or "C$",
                             smb_port=self.smb_port.value(), smb_share_root=self.smb_root.text().strip(),
                             smb_home=self.smb_home.text().strip())

    def load(self, settings: WinrmSettings) -> None:
        self.auth.setCurrentText(settings.auth)
        self.https.setChecked(settings.https)
        self.verify_cert.setChecked(settings.verify_cert)
        self.shell.setCurrentText(settings.shell)
        self.smb.setChecked(settings.smb)
        self.smb_share.setText(settings.smb_share)
        self.smb_port.setValue(settings.smb_port)
        self.smb_root.setText(settings.smb_share_root)
        self.smb_home.setText(settings.smb_home)

    def show_prepare(self) -> PrepareWindowsDialog:
        if self.prepare_dialog is None:
            self.prepare_dialog = PrepareWindowsDialog(self)
        self.prepare_dialog.open()
        return self.prepare_dialog


class PrepareWindowsDialog(QDialog):
    """Shows the setup PowerShell; the firewall rule's allowed addresses can be narrowed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Prepare a Windows PC for LabDeck")
        self.setMinimumSize(760, 520)
        intro = QLabel("Run this once on the Windows PC, in PowerShell <b>as Administrator</b>. It turns WinRM on, "
                       "adds an HTTPS listener with a certificate named after the PC, opens the firewall for HTTPS "
                       "and lifts the limits that end long jobs. Then add the node here with HTTPS ticked.")
        intro.setWordWrap(True)
        self.allowed = QLineEdit("LocalSubnet")
        self.allowed.setToolTip("Who may connect: LocalSubnet, this computer's address, or a range like 10.0.0.0/24")
        self.allowed.textChanged.connect(self._refresh)
        form = QFormLayout()
        form.addRow("Allow connections from", self.allowed)
        self.script = QPlainTextEdit()
        self.script.setReadOnly(True)
        self.script.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.script, 1)
        layout.addWidget(buttons)
        self._refresh()

    def _refresh(self) -> None:
        allowed = self.allowed.text().strip()
        if not re.fullmatch(r"[A-Za-z0-9.:/,-]+", allowed):
            allowed = "LocalSubnet"  # an address, a range or a keyword; never PowerShell code
        self.script.setPlainText(prepare_windows_script(HTTPS_PORT, allowed))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.script.toPlainText())
        self.copy_button.setText("Copied")
