"""Names from a Linux node made safe for a Windows disk, reversibly (pure: no I/O).

NTFS and Windows' file APIs refuse or change names a Linux file system takes: ``CON`` or
``aux.txt`` open a device, ``a:b`` writes an alternate data stream of ``a``, ``*?"<>|`` and
control characters are refused, a trailing dot or space is silently dropped, and ``A.txt`` and
``a.txt`` are one file. ``get`` would lose files to each of these.

The escape form is percent-encoding, as in URLs, applied only where needed:

- each character Windows refuses (``<>:"|?*``, ``\\``, codes 1-31) becomes ``%XX`` (its code in hex);
- a trailing dot or space becomes ``%2E`` / ``%20``;
- a reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension)
  gets its first letter encoded: ``aux.txt`` -> ``%61ux.txt``;
- a ``%`` that is followed by two hex digits becomes ``%25``, so that every name decodes back:
  ``original_name`` replaces each ``%XX`` by its character.

Names that differ only in case get `` (2)``, `` (3)``... before the extension, in the sorted
order of their remote paths (so a second ``get`` gives each file the same local name again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REFUSED = set('<>:"|?*\\') | {chr(code) for code in range(1, 32)}
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", *(f"COM{n}" for n in "123456789¹²³"),
             *(f"LPT{n}" for n in "123456789¹²³")}
_HEX_AFTER_PERCENT = re.compile(r"%(?=[0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _code(ch: str) -> str:
    return f"%{ord(ch):02X}"


def ntfs_safe_name(name: str) -> str:
    """One path component as Windows can store it (unchanged when it already can)."""
    safe = _HEX_AFTER_PERCENT.sub("%25", name)
    safe = "".join(_code(ch) if ch in _REFUSED else ch for ch in safe)
    stripped = safe.rstrip(". ")
    safe = stripped + "".join(_code(ch) for ch in safe[len(stripped):])
    if safe.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        safe = _code(safe[0]) + safe[1:]
    return safe


def original_name(safe: str) -> str:
    """The name a node had for a component ``ntfs_safe_name`` produced."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), safe)


@dataclass(frozen=True)
class LocalName:
    remote: str     # the relative name on the node
    local: str      # the relative name written here ("/"-separated)

    @property
    def changed(self) -> bool:
        return self.remote != self.local


def ntfs_local_names(relative_names: list[str]) -> dict[str, LocalName]:
    """Each remote relative name ("dir/file") mapped to a name Windows stores as a file of its own:
    components escaped, case collisions suffixed. Keyed by the remote name."""
    taken: dict[str, str] = {}       # case-folded local path -> the remote name that has it
    mapped: dict[str, LocalName] = {}
    folders: dict[str, str] = {}     # a remote folder path -> its local path (collisions settled once)
    for remote in sorted(relative_names):
        parts = remote.split("/")
        local_parts: list[str] = []
        for depth, part in enumerate(parts):
            remote_prefix = "/".join(parts[:depth + 1])
            is_folder = depth < len(parts) - 1
            if is_folder and remote_prefix in folders:
                local_parts = folders[remote_prefix].split("/")
                continue
            candidate = _free_name(local_parts, ntfs_safe_name(part), taken, remote_prefix)
            local_parts.append(candidate)
            taken["/".join(local_parts).casefold()] = remote_prefix
            if is_folder:
                folders[remote_prefix] = "/".join(local_parts)
        mapped[remote] = LocalName(remote, "/".join(local_parts))
    return mapped


def _free_name(parent: list[str], name: str, taken: dict[str, str], remote_prefix: str) -> str:
    """``name`` if no other remote entry has it in some case, else ``stem (N).ext``."""
    def owner(candidate: str) -> str | None:
        return taken.get("/".join([*parent, candidate]).casefold())

    if owner(name) in (None, remote_prefix):
        return name
    stem, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    number = 2
    while True:
        candidate = f"{stem} ({number}){dot}{ext}"
        if owner(candidate) in (None, remote_prefix):
            return candidate
        number += 1
