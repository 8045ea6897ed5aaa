"""Secrets in the OS keyring, and only there: the catalog keeps a reference (the keyring user name).

A node's reference carries the catalog's identity (``node:CATALOG:NAME``), so two catalogs on one
PC never overwrite or delete each other's secret of a node with the same name. A keyring that
keeps secrets in plain text (keyrings.alt's file backends, the null backend) is refused: storing
a password there would break the promise "OS keyring only". Only the test suite opts in to one,
with ``LABDECK_ALLOW_INSECURE_KEYRING=1`` (set in tests/conftest.py).

Every keyring failure becomes one SecretStoreError whose hint speaks of the keyring this OS has.
On Windows that is Credential Manager, whose errors (``pywintypes.error`` from CredWrite: no
logon session for a service account, a secret over 2560 bytes) are not keyring's own exceptions,
so any exception of a keyring call is turned into that message."""

from __future__ import annotations

import os
import sys

import keyring

from ..core.errors import SecretStoreError

SERVICE = "LabDeck"
PLATFORM = sys.platform
CREDENTIAL_MANAGER_MAX_CHARS = 1280  # CRED_MAX_CREDENTIAL_BLOB_SIZE: 2560 bytes of UTF-16
ALLOW_INSECURE_ENV = "LABDECK_ALLOW_INSECURE_KEYRING"
_INSECURE_MODULES = ("keyrings.alt", "keyring.backends.null", "keyring.backends.fail")


def credential_ref_for(node_name: str, catalog_id: str) -> str:
    return f"node:{catalog_id}:{node_name}"


def legacy_credential_ref(node_name: str) -> str:
    """The reference of LabDeck versions that keyed a node's secret by its name alone."""
    return f"node:{node_name}"


def keyring_hint(platform: str) -> str:
    """What to check about this OS's keyring when it fails."""
    if platform == "win32":
        return ("Windows Credential Manager refused it: sign in to Windows with your own account (not a service "
                "account), check that Control Panel > Credential Manager > Windows Credentials opens, and keep "
                f"the password under {CREDENTIAL_MANAGER_MAX_CHARS} characters")
    if platform == "darwin":
        return "unlock the login keychain (Keychain Access) and allow LabDeck to use it"
    return ("on Linux install and unlock a Secret Service keyring (GNOME Keyring, KWallet) "
            "or set PYTHON_KEYRING_BACKEND")


def _active_backend():
    backend = keyring.get_keyring()
    chained = getattr(backend, "backends", None)  # a ChainerBackend writes to its first (highest priority) one
    return chained[0] if chained else backend


def insecure_backend() -> str | None:
    """The name of the keyring backend in use if it keeps secrets readable on disk (or not at all)."""
    backend = _active_backend()
    module = type(backend).__module__
    if module.startswith(_INSECURE_MODULES):
        return f"{module}.{type(backend).__name__}"
    return None


def _require_secure_backend() -> None:
    name = insecure_backend()
    if name and os.environ.get(ALLOW_INSECURE_ENV) != "1":
        raise SecretStoreError(
            f"the keyring in use ({name}) keeps secrets unencrypted, so LabDeck will not store a password "
            "there; install and unlock an OS keyring (GNOME Keyring, KWallet, Windows Credential Manager) "
            "or use a key file (--key-file)")


def _explain(exc: Exception) -> SecretStoreError:
    return SecretStoreError(f"the OS keyring is not usable ({exc.__class__.__name__}: {exc}); {keyring_hint(PLATFORM)}")


def set_secret(ref: str, secret: str) -> None:
    _require_secure_backend()
    try:
        keyring.set_password(SERVICE, ref, secret)
    except Exception as exc:  # keyring's own errors and the OS backend's (pywintypes.error on Windows)
        raise _explain(exc) from exc


def get_secret(ref: str | None) -> str | None:
    if not ref:
        return None
    try:
        return keyring.get_password(SERVICE, ref)
    except Exception as exc:  # keyring's own errors and the OS backend's (pywintypes.error on Windows)
        raise _explain(exc) from exc


def delete_secret(ref: str | None) -> None:
    if not ref:
        return
    try:
        keyring.delete_password(SERVICE, ref)
    except keyring.errors.PasswordDeleteError:
        pass
    except Exception as exc:  # keyring's own errors and the OS backend's (pywintypes.error on Windows)
        raise _explain(exc) from exc
