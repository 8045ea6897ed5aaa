"""The catalog's identity: a random id made once, when the catalog is first used, and kept in
its settings. Everything one catalog leaves outside its own file -- run folders on nodes,
keyring entries -- carries it, so two catalogs (two desks, two data folders) sharing a node
login or a PC keyring never read, overwrite or delete each other's."""

from __future__ import annotations

import secrets

from .catalog import Catalog

CATALOG_TOKEN_SETTING = "catalog_token"


def catalog_token(catalog: Catalog) -> str:
    """The id, made on first use; two processes making it at once agree on the first one written."""
    token = catalog.get_setting(CATALOG_TOKEN_SETTING)
    if token:
        return token
    with catalog._tx() as db:
        db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)",
                   (CATALOG_TOKEN_SETTING, secrets.token_hex(4)))
    return catalog.get_setting(CATALOG_TOKEN_SETTING)


def run_token(catalog: Catalog, node_run_id: int) -> str:
    """LABDECK_RUN_TOKEN of a node run: in every step's environment, so a kill -- or the next
    start after this PC's LabDeck was killed -- finds the processes that left the step's group."""
    return f"{catalog_token(catalog)}-{node_run_id}"
