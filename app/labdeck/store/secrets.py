"""Secrets in the OS keyring, and only there: the catalog keeps a reference (the keyring user name).

Every keyring failure becomes one SecretStoreError whose hint speaks of the keyring this OS has.
On Windows that is Credential Manager, whose errors (``pywintypes.error`` from CredWrite: no
logon session for a service account, a secret over 2560 bytes) are not keyring's own exceptions,
so any exception of a keyring call is turned into that message."""

from __future__ import annotations

import sys

import keyring

from ..core.errors import SecretStoreError

SERVICE = "LabDeck"
PLATFORM = sys.platform
CREDENTIAL_MANAGER_MAX_CHARS = 1280  # CRED_MAX_CREDENTIAL_BLOB_SIZE: 2560 bytes of UTF-16


def credential_ref_for(node_name: str) -> str:
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


def _explain(exc: Exception) -> SecretStoreError:
    return SecretStoreError(f"the OS keyring is not usable ({exc.__class__.__name__}: {exc}); {keyring_hint(PLATFORM)}")


def set_secret(ref: str, secret: str) -> None:
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
