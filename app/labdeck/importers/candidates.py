"""What every inventory parser produces (NodeCandidate), the one error it raises
(InventoryError: file, line, reason), and the helpers they share: reading text in any of the
encodings these files come in, and refusing secrets."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InvalidInput
from ..core.models import Node


class InventoryError(InvalidInput):
    """An inventory that cannot be imported: the message names the file, the line and the reason."""


def at(path: Path, line: int | None, reason: str) -> InventoryError:
    return InventoryError(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


@dataclass
class NodeCandidate:
    """A node an inventory describes, before it is checked and imported."""
    node: Node
    source: str                                    # "file:line" where the node is defined
    via: list[str] = field(default_factory=list)   # jump hosts, first hop first (ProxyJump)
    notes: list[str] = field(default_factory=list)  # what was not taken over, for the report


SECRET_HINT = ("LabDeck keeps no secrets from inventory files: remove it and give the password with "
               "--password-stdin (it goes to the OS keyring), or set it in the node dialog")


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM) or UTF-16 with BOM; line ends kept as
    they are (callers use splitlines, so CRLF and LF both work)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise at(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None


def did_you_mean(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_port(value: str, path: Path, line: int | None, what: str = "port") -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        raise at(path, line, f"{what} '{value}' is not a number") from None
    if not 0 < port < 65536:
        raise at(path, line, f"{what} {port} is out of range 1-65535")
    return port
