"""File transfers as plain data (no I/O): what to move, how far it got, how it ended, and the
path rules every transfer obeys — ``${node.name}``/``${option.X}`` in paths, and remote names
that can never place a file outside the local destination folder."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from .errors import InvalidInput

PART_SUFFIX = ".labdeck-part"
_PLACEHOLDER = re.compile(r"\$\{(node\.name|option\.([A-Za-z_][A-Za-z0-9_]*))\}")


class Direction(StrEnum):
    PUT = "put"   # local -> nodes (distribute)
    GET = "get"   # nodes -> local (collect)


class FileOutcome(StrEnum):
    COPIED = "copied"
    RESUMED = "resumed"      # continued from a part file a failed attempt left
    SKIPPED = "skipped"      # already identical on the other side


@dataclass
class RemoteEntry:
    """One file or folder as the node's transfer backend lists it. ``path`` is the full remote
    path; ``mtime`` in whole seconds (SFTP's precision)."""
    path: str
    size: int
    mtime: int
    mode: int
    is_dir: bool = False
    is_link: bool = False

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/")) or self.path


@dataclass
class FileResult:
    local: str
    remote: str
    size: int
    outcome: FileOutcome
    sha256: str = ""


@dataclass
class NodeTransferResult:
    """How one node's part of a transfer ended: ``ok`` or a one-line error a user can act on."""
    node: str
    ok: bool
    files: list[FileResult] = field(default_factory=list)
    bytes_done: int = 0
    error: str = ""
    seconds: float = 0.0
    unreachable: bool = False  # the error was the node dropping (a retry resumes)
    cancelled: bool = False
    shared_with: str = ""  # the node whose upload already put the files into this node's (shared) folder
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (name on the node, name written here)

    def renamed_text(self) -> str:
        """``N name(s) changed for Windows: a:b -> a%3Ab, ...`` or empty."""
        if not self.renamed:
            return ""
        shown = ", ".join(f"{remote} -> {local}" for remote, local in self.renamed[:5])
        more = f" and {len(self.renamed) - 5} more" if len(self.renamed) > 5 else ""
        return f"{len(self.renamed)} name(s) changed for Windows: {shown}{more}"

    def as_dict(self) -> dict:
        return {"node": self.node, "ok": self.ok, "error": self.error, "bytes": self.bytes_done,
                "shared_with": self.shared_with,
                "seconds": round(self.seconds, 3),
                "renamed": [{"remote": remote, "local": local} for remote, local in self.renamed],
                "files": [{"local": f.local, "remote": f.remote, "size": f.size, "outcome": str(f.outcome),
                           "sha256": f.sha256} for f in self.files]}


def substitute_path(text: str, node_name: str, options: dict[str, str]) -> str:
    """``${node.name}`` and ``${option.X}`` replaced verbatim (paths never reach a shell)."""
    def replace(match: re.Match) -> str:
        if match.group(1) == "node.name":
            return node_name
        name = match.group(2)
        if name not in options:
            known = ", ".join(sorted(options)) or "none"
            raise InvalidInput(f"path '{text}' uses ${{option.{name}}}, but there is no such option (options: {known})")
        return options[name]
    return _PLACEHOLDER.sub(replace, text)


def option_names_used(texts: list[str]) -> set[str]:
    """The X of every ``${option.X}`` in these paths."""
    return {m.group(2) for text in texts for m in _PLACEHOLDER.finditer(text) if m.group(2)}


def safe_relative_parts(name: str) -> list[str]:
    """The components of a remote relative name, refusing any that could leave the folder it is
    placed in: ``..``, an absolute path, a drive, or a backslash (a separator on Windows)."""
    if not name or name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise InvalidInput(f"remote name '{name}' is not a plain relative path; refusing to write it locally")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise InvalidInput(f"remote name '{name}' points outside the destination folder; refusing to write it locally")
    return parts


def safe_local_path(root: Path, relative: str) -> Path:
    """``root/relative`` for a name that came from a node, guaranteed to stay inside ``root``
    even through symlinks already present under it."""
    target = root.joinpath(*safe_relative_parts(relative))
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        raise InvalidInput(f"remote name '{relative}' would be written outside {root}; refusing")
    return target


def node_folder(local_dir: Path, node_name: str) -> Path:
    """``get``'s ``LOCAL_DIR/<node>``: one folder directly inside LOCAL_DIR whatever the node is
    called (checked here, not left to the node-name rules: a catalog may hold older names)."""
    folder = local_dir / node_name
    plain = node_name not in ("", ".", "..") and not any(c in node_name for c in "/\\\x00:")
    resolved_dir = local_dir.resolve()
    if not plain or folder.resolve().parent != resolved_dir:
        raise InvalidInput(f"node name {node_name!r} cannot be a folder of its own in {local_dir}; "
                           "refusing to collect its files there")
    return folder


def remote_join(folder: str, *names: str) -> str:
    """A remote POSIX path; an empty folder means the login folder."""
    if not folder:
        return posixpath.join(*names) if names else ""
    return posixpath.join(folder, *names)


def has_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


# ---- events the transfer manager publishes on the engine's bus ---------------------------

@dataclass(frozen=True)
class TransferQueued:
    transfer_id: int
    direction: Direction
    title: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class TransferProgress:
    """A node's progress (published at most every ~0.1 s per node, and at each file's end)."""
    transfer_id: int
    node: str
    file_name: str
    file_done: int
    file_total: int
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    bytes_per_s: float


@dataclass(frozen=True)
class TransferNodeFinished:
    transfer_id: int
    node: str
    ok: bool
    error: str
    note: str = ""  # e.g. which names were changed for Windows


@dataclass(frozen=True)
class TransferFinished:
    transfer_id: int
    ok: bool
    cancelled: bool
