"""Helpers shared by the CLI commands: opening the catalog or the engine, printing tables and
JSON. A command that only reads or edits the catalog opens just the catalog (no threads, no
seeding, no reconcile, no SSH or scheduler imports); only commands that run something open
the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..core.errors import InvalidInput
from typing import TYPE_CHECKING

from ..engine.api import EngineApi

if TYPE_CHECKING:
    from ..store.catalog import Catalog


@contextmanager
def open_catalog(args) -> Iterator[Catalog]:
    from ..store import paths
    from ..store.catalog import Catalog
    path = paths.catalog_path(paths.resolve_data_dir(args.data_dir))
    new = not path.exists()
    catalog = Catalog(path)
    if new:  # a catalog created now gets its first-start node and sample job, as the engine would give it
        from ..engine.seed import seed_first_start
        seed_first_start(catalog)
    try:
        yield catalog
    finally:
        catalog.close()


@contextmanager
def open_engine(args) -> Iterator[EngineApi]:
    from ..engine.engine import Engine
    engine = Engine(args.data_dir)
    try:
        yield engine
    finally:
        engine.close()


def print_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line.rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{flag} expects NAME=VALUE, got '{pair}'")
        values[key] = value
    return values


def read_secret_from_stdin() -> str:
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput("--password-stdin was given but standard input is empty")
    return line.rstrip("\r\n")


def wait_or_cancel(engine: EngineApi, run_id: int) -> None:
    """Wait for a run to end; Ctrl-C cancels it (its processes on the nodes are killed)."""
    try:
        engine.wait(run_id)
    except KeyboardInterrupt:
        print("cancelling the run (the processes on the nodes are being killed)...", file=sys.stderr)
        engine.cancel(run_id)
        engine.wait(run_id)
