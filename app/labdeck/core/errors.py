"""Errors LabDeck raises: each carries a message a user can act on."""


class LabDeckError(Exception):
    """Base class: the message is shown to the user as is, on one line."""


class NotFound(LabDeckError):
    """A node, job or run named by the user does not exist."""


class InvalidInput(LabDeckError):
    """Something the user typed or imported is malformed (a target spec, an option, a job file)."""


class AlreadyExists(LabDeckError):
    """A node or job with that name is already in the catalog."""


class NodeUnreachable(LabDeckError):
    """The node could not be reached or stopped answering (distinct from a command that failed)."""


class AuthenticationFailed(LabDeckError):
    """The node refused the login."""


class HostKeyUnknown(LabDeckError):
    """First contact: the host key has not been accepted by the user yet."""

    def __init__(self, node: str, fingerprint: str, key_type: str, key_b64: str):
        self.node = node
        self.fingerprint = fingerprint
        self.key_type = key_type
        self.key_b64 = key_b64
        super().__init__(
            f"host key of node '{node}' is not trusted yet ({key_type} {fingerprint}); "
            f"check it and accept it with: labdeck node test {node} --accept-host-key"
        )


class HostKeyChanged(LabDeckError):
    """The node presented a different host key from the one accepted before."""

    def __init__(self, node: str, expected: str | None, presented: str):
        self.node = node
        self.expected = expected
        self.presented = presented
        super().__init__(
            f"HOST KEY CHANGED for node '{node}': expected {expected or 'no key (none accepted yet)'}, "
            f"the host presented {presented}. "
            f"Nothing was run there. If the machine was reinstalled, accept the new key with: "
            f"labdeck node test {node} --accept-host-key --replace-host-key"
        )


class SecretStoreError(LabDeckError):
    """The OS keyring could not be used."""


class CatalogError(LabDeckError):
    """The catalog file cannot be used (written by a newer LabDeck, damaged, not writable)."""
