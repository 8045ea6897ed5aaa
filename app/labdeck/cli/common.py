"""Helpers shared by the CLI commands: opening the catalog or the engine, printing tables and
JSON. A command that only reads or edits the catalog opens just the catalog (no threads, no
seeding, no reconcile, no SSH or scheduler imports); only commands that run something open
the engine."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..core.errors import InvalidInput
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


def connect_engine(args) -> EngineApi:
    """The catalog's engine: a client of its engine service, started if none runs (or an
    Engine in this process with LABDECK_ENGINE=inprocess, for debugging)."""
    if os.environ.get("LABDECK_ENGINE") == "inprocess":
        from ..engine.engine import Engine
        return Engine(args.data_dir)
    from ..engine.engine_process import EngineProcess
    return EngineProcess(args.data_dir)


@contextmanager
def open_engine(args) -> Iterator[EngineApi]:
    """The catalog's engine for one command; leaving it never stops the runs it started."""
    engine = connect_engine(args)
    try:
        yield engine
    finally:
        engine.close(cancel_running=False)


def print_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


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


def wait_or_cancel(engine: EngineApi, run_id: int, followed: set[int] | None = None) -> int:
    """Wait for a run to end, and for its max-runtime restarts after it; the id of the run that
    ended last (``followed`` gets each restart's id as it starts). Ctrl-C cancels the run
    going on (its processes on the nodes are killed)."""
    current = run_id
    try:
        while True:
            engine.wait(current)
            restart = engine.successor(current)
            if restart is None:
                return current
            print(f"run {current} ran past its max runtime; it goes on as run {restart}", file=sys.stderr)
            if followed is not None:
                followed.add(restart)
            current = restart
    except KeyboardInterrupt:
        print("cancelling the run (the processes on the nodes are being killed)...", file=sys.stderr)
        engine.cancel(current)
        engine.wait(current)
        return current
