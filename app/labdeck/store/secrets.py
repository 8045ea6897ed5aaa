"""Secrets in the OS keyring, and only there: the catalog keeps a reference (the keyring user name)."""

from __future__ import annotations

import keyring
from keyring.errors import KeyringError, NoKeyringError

from ..core.errors import SecretStoreError

SERVICE = "LabDeck"


def credential_ref_for(node_name: str) -> str:
    return f"node:{node_name}"


def _explain(exc: Exception) -> SecretStoreError:
    return SecretStoreError(
        f"the OS keyring is not usable ({exc.__class__.__name__}: {exc}); on Linux install and unlock a "
        "Secret Service keyring (GNOME Keyring, KWallet) or set PYTHON_KEYRING_BACKEND"
    )


def set_secret(ref: str, secret: str) -> None:
    try:
        keyring.set_password(SERVICE, ref, secret)
    except (KeyringError, NoKeyringError, RuntimeError) as exc:
        raise _explain(exc) from exc


def get_secret(ref: str | None) -> str | None:
    if not ref:
        return None
    try:
        return keyring.get_password(SERVICE, ref)
    except (KeyringError, NoKeyringError, RuntimeError) as exc:
        raise _explain(exc) from exc


def delete_secret(ref: str | None) -> None:
    if not ref:
        return
    try:
        keyring.delete_password(SERVICE, ref)
    except keyring.errors.PasswordDeleteError:
        pass
    except (KeyringError, NoKeyringError, RuntimeError) as exc:
        raise _explain(exc) from exc
