"""Reading a lab that already exists: node inventories (OpenSSH client config, Ansible INI and
YAML, CSV) turned into candidate nodes.

Pure parsers: they read the file they are given (and, for ssh config, the files it
``Include``s) and nothing else; no catalog, no network. A file that cannot be used raises
InventoryError naming the file, the line and the reason, before anything is imported.
"""

from __future__ import annotations

from pathlib import Path

from .candidates import InventoryError, NodeCandidate

FORMATS = ("ssh-config", "ansible", "csv")

__all__ = ["FORMATS", "InventoryError", "NodeCandidate", "guess_format", "parse_inventory"]


def guess_format(path: Path) -> str:
    """The format a file is most likely in, from its name and first lines."""
    name = path.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".yml", ".yaml", ".ini")) or name in ("hosts", "inventory"):
        return "ansible"
    if name in ("config", "ssh_config") or name.endswith(".conf"):
        return "ssh-config"
    from .candidates import read_text
    for line in read_text(path).splitlines():
        word = line.strip().split(" ", 1)[0].split("=", 1)[0].lower()
        if word and not word.startswith("#"):
            if word in ("host", "match", "include", "hostname"):
                return "ssh-config"
            if word.startswith("[") or word.endswith(":"):
                return "ansible"
            break
    raise InventoryError(f"{path}: cannot tell its format; give --format ssh-config, ansible or csv")


def parse_inventory(path: str | Path, fmt: str | None = None) -> list[NodeCandidate]:
    """The nodes a file describes, in file order; InventoryError if it cannot be used."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InventoryError(f"{path}: no such file")
    fmt = fmt or guess_format(path)
    if fmt == "ssh-config":
        from .ssh_config import parse_ssh_config
        return parse_ssh_config(path)
    if fmt == "ansible":
        from .ansible import parse_ansible
        return parse_ansible(path)
    if fmt == "csv":
        from .csv_nodes import parse_csv
        return parse_csv(path)
    raise InventoryError(f"unknown inventory format '{fmt}': use {', '.join(FORMATS)}")
