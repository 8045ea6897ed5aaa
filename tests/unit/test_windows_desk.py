"""The desk PC's own Windows troubles: a data folder on the network (SQLite's WAL cannot work
there), Credential Manager refusing a secret, and a log file a viewer holds open while it rotates."""

from __future__ import annotations

import logging
import sys
import uuid

import keyring
import keyring.backend
import pytest

from labdeck.core.errors import InvalidInput, SecretStoreError
from labdeck.store import paths, secrets

windows_only = pytest.mark.skipif(sys.platform != "win32", reason="needs Windows (Credential Manager, drive types)")


# ---- the data folder on a network drive ---------------------------------------------------------


@pytest.mark.parametrize("path", [r"\\fileserver\lab\LabDeck", "//fileserver/lab/LabDeck",
                                  r"\\?\UNC\fileserver\lab\LabDeck", r"\\fileserver\lab"])
def test_a_unc_data_folder_is_a_network_share(path):
    assert paths.network_location(path, windows=True, drive_type=lambda root: 3) == "a network share (UNC path)"


def test_a_mapped_network_drive_is_found_by_its_drive_type():
    asked = []

    def drive_type(root):
        asked.append(root)
        return {"Z:\\": paths.DRIVE_REMOTE, "C:\\": 3}[root]

    assert paths.network_location(r"Z:\LabDeck", windows=True, drive_type=drive_type) == "on network drive Z:"
    assert paths.network_location(r"z:/LabDeck", windows=True, drive_type=drive_type) == "on network drive Z:"
    assert paths.network_location(r"C:\Users\ana\AppData\Local\LabDeck", windows=True, drive_type=drive_type) is None
    assert paths.network_location(r"\\?\C:\Users\ana\LabDeck", windows=True, drive_type=drive_type) is None
    assert asked == ["Z:\\", "Z:\\", "C:\\", "C:\\"]


def test_a_local_posix_folder_is_not_on_the_network(tmp_path):
    assert paths.network_location(str(tmp_path), windows=False) is None


def test_the_app_refuses_a_network_data_folder_with_what_to_do():
    with pytest.raises(InvalidInput, match=r"network share \(UNC path\); SQLite's catalog cannot work there. "
                                           r"Choose a folder on a local disk"):
        paths.resolve_data_dir(r"\\fileserver\lab\LabDeck")


@windows_only
def test_this_windows_machines_own_disk_is_local(tmp_path):
    assert paths.network_location(str(tmp_path)) is None
    assert paths.resolve_data_dir(tmp_path) == tmp_path.resolve()


# ---- the keyring ---------------------------------------------------------------------------------


class CredWriteError(Exception):
    """What keyring's Windows backend lets through from CredWrite: win32ctypes' pywintypes.error, a
    plain Exception subclass with (winerror, funcname, strerror). Stand-in for Linux; the test
    below hits the real one on Windows."""


class RefusingKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def set_password(self, service, username, password):
        raise CredWriteError(87, "CredWrite", "The parameter is incorrect.")

    def get_password(self, service, username):
        raise CredWriteError(1312, "CredRead", "A specified logon session does not exist.")

    def delete_password(self, service, username):
        raise CredWriteError(1312, "CredDelete", "A specified logon session does not exist.")


@pytest.fixture
def refusing_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(RefusingKeyring())
    yield
    keyring.set_keyring(previous)


def test_a_credential_manager_error_is_one_line_with_a_windows_hint(refusing_keyring, monkeypatch):
    monkeypatch.setattr(secrets, "PLATFORM", "win32")
    for call in (lambda: secrets.set_secret("node:w1", "pw"), lambda: secrets.get_secret("node:w1"),
                 lambda: secrets.delete_secret("node:w1")):
        with pytest.raises(SecretStoreError) as caught:
            call()
        text = str(caught.value)
        assert "Windows Credential Manager refused it" in text and "Control Panel > Credential Manager" in text
        assert "Secret Service" not in text and "\n" not in text


def test_the_linux_hint_stays_on_linux(refusing_keyring, monkeypatch):
    monkeypatch.setattr(secrets, "PLATFORM", "linux")
    with pytest.raises(SecretStoreError, match="Secret Service keyring"):
        secrets.set_secret("node:l1", "pw")


@pytest.fixture
def credential_manager():
    from keyring.backends.Windows import WinVaultKeyring
    previous = keyring.get_keyring()
    keyring.set_keyring(WinVaultKeyring())
    yield
    keyring.set_keyring(previous)


@windows_only
def test_credential_manager_keeps_a_secret_and_refuses_an_oversized_one_clearly(credential_manager):
    ref = f"node:ci-{uuid.uuid4().hex[:8]}"
    try:
        secrets.set_secret(ref, "Pässwört 한국")
        assert secrets.get_secret(ref) == "Pässwört 한국"
        with pytest.raises(SecretStoreError, match="Windows Credential Manager refused it"):
            secrets.set_secret(ref + "-big", "x" * 4000)  # over CRED_MAX_CREDENTIAL_BLOB_SIZE
    finally:
        secrets.delete_secret(ref)
    assert secrets.get_secret(ref) is None


# ---- the app's log while a viewer holds it ---------------------------------------------------------


def test_logging_goes_on_when_the_log_cannot_be_rotated(tmp_path):
    from labdeck.gui.app import log_to_file
    log_path = tmp_path / "labdeck.log"
    for backup in ("labdeck.log.1", "labdeck.log.2"):  # backups that cannot be removed: rotation fails as on Windows
        (tmp_path / backup).mkdir()
        (tmp_path / backup / "keep").write_text("x")
    root = logging.getLogger()
    before = list(root.handlers)
    log_to_file(log_path)
    handler = next(h for h in root.handlers if h not in before)
    try:
        logger = logging.getLogger("labdeck.test")
        line = "w" * 200
        for i in range(8000):  # about 1.7 MB, past the 1 MiB rotation size
            logger.warning("%s %d", line, i)
        handler.flush()
        text = log_path.read_text(encoding="utf-8")
        assert "labdeck.test: " + line + " 7999" in text  # the last record is there
        assert text.count(" 7999\n") == 1 and text.count("could not be rotated") >= 1
    finally:
        root.removeHandler(handler)
        handler.close()
