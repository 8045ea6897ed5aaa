"""Host-key policy backed by the catalog: no blind auto-add; a changed key blocks the node."""

from __future__ import annotations

from ..core.errors import HostKeyChanged, HostKeyUnknown
from ..store.catalog import Catalog


class CatalogHostKeys:
    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def check(self, node: str, key_type: str, key_b64: str, fingerprint: str) -> None:
        known = self._catalog.host_keys(node)
        if not known:
            raise HostKeyUnknown(node, fingerprint, key_type, key_b64)
        if key_type in known:
            if known[key_type][0] != key_b64:
                raise HostKeyChanged(node, f"{key_type} {known[key_type][1]}", f"{key_type} {fingerprint}")
            return
        expected = "; ".join(f"{t} {fp}" for t, (_, fp) in known.items())
        raise HostKeyChanged(node, expected, f"{key_type} {fingerprint}")
