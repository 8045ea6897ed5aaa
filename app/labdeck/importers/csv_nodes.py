"""A CSV node list with a header row: ``name,host,port,user,transport,tags,key_file`` (only
``name`` and ``host`` are required; tags are separated by ``;``, spaces or commas inside a
quoted cell). A password column is refused: secrets go to the keyring."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..core.models import Node, Transport, WinrmSettings
from .candidates import SECRET_HINT, NodeCandidate, at, did_you_mean, parse_port, read_text

COLUMNS = ("name", "host", "port", "user", "transport", "tags", "key_file", "via", "winrm_auth", "https")
SECRET_COLUMNS = ("password", "passphrase", "secret", "pass")


def parse_csv(path: Path) -> list[NodeCandidate]:
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    candidates = []
    for row in reader:
        number = reader.line_num
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            _check_header(path, number, header)
            continue
        if len(row) > len(header):
            raise at(path, number, f"{len(row)} cells but the header has {len(header)} columns")
        values = {column: cell.strip() for column, cell in zip(header, row)}
        candidates.append(_candidate(path, number, values))
    if header is None:
        raise at(path, None, "empty: a CSV node list starts with a header row (name,host,port,user,...)")
    return candidates


def _check_header(path: Path, number: int, header: list[str]) -> None:
    for column in header:
        if column in SECRET_COLUMNS:
            raise at(path, number, f"column '{column}': {SECRET_HINT}")
        if column not in COLUMNS:
            raise at(path, number, f"unknown column '{column}'{did_you_mean(column, COLUMNS)}; "
                                   f"columns are {', '.join(COLUMNS)}")
    for required in ("name", "host"):
        if required not in header:
            raise at(path, number, f"the header has no '{required}' column")
    if len(set(header)) != len(header):
        raise at(path, number, "a column appears twice in the header")


def _candidate(path: Path, number: int, values: dict[str, str]) -> NodeCandidate:
    if not values.get("name"):
        raise at(path, number, "the name cell is empty")
    transport_text = (values.get("transport") or "ssh").lower()
    try:
        transport = Transport(transport_text)
    except ValueError:
        raise at(path, number, f"transport '{transport_text}' is not ssh, winrm or local"
                               f"{did_you_mean(transport_text, [t.value for t in Transport])}") from None
    port = parse_port(values["port"], path, number) if values.get("port") else None
    node = Node(name=values["name"], transport=transport, host=values.get("host", ""), port=port,
                username=values.get("user", ""), key_file=values.get("key_file") or None,
                tags=[t for t in re.split(r"[;,\s]+", values.get("tags", "")) if t])
    if transport is Transport.WINRM:
        https = values.get("https", "").lower() in ("1", "yes", "true", "https")
        node.winrm = WinrmSettings(auth=(values.get("winrm_auth") or "ntlm").lower(), https=https)
    elif values.get("winrm_auth") or values.get("https"):
        raise at(path, number, "winrm_auth and https are for winrm nodes")
    via = [v for v in re.split(r"[;,\s]+", values.get("via", "")) if v]
    return NodeCandidate(node, f"{path}:{number}", via)
