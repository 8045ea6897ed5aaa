"""Which nodes the engine found down, kept in the catalog so every process sees it: ``labdeck
node list`` and the app's node grid say "down since HH:MM: <reason>" whoever found it. The
engine's health watcher (engine/health.py) writes a node down when it stops answering and
clears it when a probe succeeds; a new engine starts from what the last one recorded."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..core.errors import CatalogError
from .catalog import Catalog


@dataclass(frozen=True)
class NodeDown:
    node: str
    since: float   # epoch seconds
    reason: str

    def text(self) -> str:
        """``down since 14:05: connection refused`` (the date too when it is not today)."""
        return f"{self.short_text()}: {self.reason or 'it did not answer'}"

    def short_text(self) -> str:
        """``down since 14:05``, for a narrow column."""
        when = time.localtime(self.since)
        same_day = time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d")
        return f"down since {time.strftime('%H:%M' if same_day else '%Y-%m-%d %H:%M', when)}"


def mark_down(catalog: Catalog, node: str, since: float, reason: str) -> None:
    """Record the node down; a node already down keeps its first time and reason (unless it
    answered since: then this is a new fall). CatalogError when the file cannot be written."""
    _write(catalog, "INSERT INTO node_down (node_name, since, reason) VALUES (?, ?, ?) "
                    "ON CONFLICT(node_name) DO UPDATE SET since = excluded.since, reason = excluded.reason "
                    "WHERE (SELECT last_seen FROM nodes WHERE name = node_down.node_name) > node_down.since",
           (node, since, reason))


def clear_down(catalog: Catalog, node: str) -> None:
    _write(catalog, "DELETE FROM node_down WHERE node_name = ?", (node,))


def _write(catalog: Catalog, sql: str, params: tuple) -> None:
    try:
        with catalog._tx() as db:
            db.execute(sql, params)
    except sqlite3.Error as exc:  # a locked or damaged file: the caller says so and goes on
        raise CatalogError(f"the catalog {catalog.path} could not record a node's state ({exc})") from exc


def down_nodes(catalog: Catalog) -> dict[str, NodeDown]:
    """Every node recorded down, by name (of the nodes still in the catalog). The newest word
    wins: a node that answered after it was found down (``labdeck node test``, a probe of any
    process moves its ``last_seen``) is not down, whether or not the record is cleared yet."""
    rows = catalog._rows("SELECT d.node_name, d.since, d.reason FROM node_down d "
                         "JOIN nodes n ON n.name = d.node_name "
                         "WHERE n.last_seen IS NULL OR n.last_seen <= d.since")
    return {r["node_name"]: NodeDown(r["node_name"], r["since"], r["reason"]) for r in rows}
