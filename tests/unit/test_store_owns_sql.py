"""SQL lives in store/: no module of the layers above reaches into the catalog's store-only API
(``Catalog._rows``, ``Catalog._tx``), its connection, or sqlite3 itself."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "labdeck"
ABOVE_THE_STORE = ["gui", "engine", "cli", "executors"]
# what only store/ may use: the catalog's read and transaction calls, its sqlite-utils handle,
# and sqlite3 itself
STORE_ONLY = re.compile(r"\._rows\(|\._tx\(|\bcatalog\.(db|_conn)\b|^\s*(import|from) sqlite3\b", re.MULTILINE)


def _offences(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in STORE_ONLY.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {match.group().strip()}")
    return found


def test_no_sql_outside_the_store():
    offences = [o for layer in ABOVE_THE_STORE for o in _offences(PACKAGE / layer)]
    assert offences == [], "SQL outside store/ (add a store function instead):\n" + "\n".join(offences)


def test_the_scan_finds_a_private_catalog_call(tmp_path):
    (tmp_path / "page.py").write_text("rows = self.catalog._rows('SELECT 1')\nwith cat._tx() as db:\n    pass\n")
    matches = [m.group() for m in STORE_ONLY.finditer((tmp_path / "page.py").read_text())]
    assert matches == ["._rows(", "._tx("]


def test_forget_host_keys_drops_only_that_nodes_keys(tmp_path):
    """The store call the node manager uses to undo an accepted key (it ran its own SQL before)."""
    from labdeck.core.models import Node
    from labdeck.store.catalog import Catalog

    catalog = Catalog(tmp_path / "catalog.db")
    for name in ("a", "b"):
        catalog.add_node(Node(name=name, host="127.0.0.1"))
        catalog.accept_host_key(name, "ssh-ed25519", "AAAA" + name, "SHA256:" + name)
    catalog.forget_host_keys("a")
    assert catalog.host_keys("a") == {}
    assert catalog.host_keys("b") == {"ssh-ed25519": ("AAAAb", "SHA256:b")}
