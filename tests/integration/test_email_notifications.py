"""Email notifications through a real SMTP server (aiosmtpd) on loopback, set up with the CLI."""

from __future__ import annotations

import json
import socket
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.cli import labdeck


class Inbox:
    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_failed_run_is_mailed_and_the_smtp_password_stays_in_the_keyring(data_dir):
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        inbox.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"smtp-s3cret")

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        result = labdeck(data_dir, "notify", "smtp", "--host", "127.0.0.1", "--port", str(port), "--security", "none",
                         "--user", "lab", "--from", "labdeck@lab.example", "--password-stdin", stdin="smtp-s3cret\n")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["password"] == "(in the keyring)"
        assert labdeck(data_dir, "job", "add", "breaks", "--command", "exit 3", "--targets", "this-computer",
                       "--notify-on", "failed", "--notify-email", "oncall@lab.example").returncode == 0
        assert labdeck(data_dir, "run",
                       "breaks").returncode == 1  # the run waits for its notifications to be handed over
        for _ in range(100):
            if inbox.messages:
                break
            time.sleep(0.1)
        assert inbox.logins == [("lab", "smtp-s3cret")]
        (recipients, content), = inbox.messages
        assert recipients == ["oncall@lab.example"]
        assert "Subject: LabDeck: breaks failed" in content and "this-computer" in content
    finally:
        controller.stop()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"smtp-s3cret" not in path.read_bytes(), path
