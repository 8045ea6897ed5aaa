"""``labdeck node import FILE``: nodes from an ssh config, an Ansible inventory or a CSV list.

Shows what the file holds (new, existing), then every SSH node's host key for one
confirmation (or ``--accept-host-keys`` for a batch you trust), logs in to each, and imports
them all or none.
"""

from __future__ import annotations

import sys

from ..core.errors import InvalidInput
from ..importers import FORMATS, parse_inventory
from .common import open_catalog, open_engine, print_table, read_secret_from_stdin


def register(node_sub) -> None:
    imp = node_sub.add_parser("import", help="add many nodes from an ssh config, an Ansible inventory or a CSV file")
    imp.add_argument("file")
    imp.add_argument("--format", choices=FORMATS, help="the file's format (default: guessed from its name and "
                                                      "first lines)")
    imp.add_argument("--dry-run", action="store_true", help="show what would be imported; change nothing")
    imp.add_argument("--tag", action="append", default=[], help="a tag added to every imported node (repeatable)")
    imp.add_argument("--replace", action="store_true", help="overwrite nodes whose names exist (default: keep them)")
    imp.add_argument("--accept-host-keys", action="store_true",
                     help="trust the host keys the nodes present now (a batch you trust); else you are asked")
    imp.add_argument("--no-check", action="store_true",
                     help="import without connecting (accept host keys later with node test)")
    imp.add_argument("--password-stdin", action="store_true",
                     help="read one password for all imported nodes from standard input; kept in the OS keyring")
    imp.set_defaults(handler=cmd_import)


def cmd_import(args) -> int:
    candidates = parse_inventory(args.file, args.format)
    if not candidates:
        raise InvalidInput(f"{args.file}: no nodes found in it")
    secret = read_secret_from_stdin() if args.password_stdin else None
    if args.dry_run or args.no_check:  # nothing to connect to: an edit of the catalog, no engine
        from ..engine.node_import import NodeImporter
        with open_catalog(args) as catalog:
            return _import(args, NodeImporter(catalog, nodes=None), candidates, secret)
    with open_engine(args) as engine:  # the host keys and logins are checked by the catalog's engine
        return _import(args, engine.node_import, candidates, secret)


def _import(args, importer, candidates, secret: str | None) -> int:
    plan = importer.plan(candidates, args.tag, args.replace)
    _show(plan)
    if args.dry_run:
        print(f"dry run: {len(plan.to_import)} nodes would be imported; nothing was changed")
        return 0
    if not plan.to_import:
        print("nothing to import: every node in the file already exists (--replace overwrites them)")
        return 0
    presented, confirmed = {}, {}
    if not args.no_check:
        presented = importer.presented_keys(plan)
        unreachable = {name: why for name, why in presented.items() if isinstance(why, str)}
        if unreachable:
            listed = "; ".join(f"{name}: {why}" for name, why in unreachable.items())
            raise InvalidInput(f"nothing was imported: {len(unreachable)} nodes did not answer ({listed}); "
                               "leave them out, or import with --no-check")
        confirmed = _confirm_keys(presented, args.accept_host_keys, args.password_stdin)
    result = importer.commit(plan, confirmed, presented, secret=secret, check=not args.no_check)
    print(f"imported {len(result.imported)} nodes" + (" (not checked)" if args.no_check else "") +
          (f"; kept {len(result.kept)} existing: {', '.join(result.kept)}" if result.kept else ""))
    for name, why in result.probe_failures.items():
        print(f"  {name}: imported, but the probe failed: {why}")
    return 0


def _show(plan) -> None:
    rows = []
    for status, group in (("new", plan.new), ("replace" if plan.replace else "exists: kept", plan.existing)):
        for c in group:
            n = c.node
            rows.append([n.name, n.transport, f"{n.host}:{n.effective_port}" if n.host else "-", n.username or "-",
                         ",".join(n.tags) or "-", ",".join(c.via) or "-", status])
    print_table(["NAME", "TRANSPORT", "ADDRESS", "USER", "TAGS", "VIA", "STATUS"], rows)
    for c in plan.new + plan.existing:
        for note in c.notes:
            print(f"  note: {c.node.name}: {note}")


def _confirm_keys(presented: dict, accept_all: bool, stdin_used: bool) -> dict[str, str]:
    if not presented:
        return {}
    print("host keys presented:")
    for name, (key_type, _b64, fingerprint) in presented.items():
        print(f"  {name}: {key_type} {fingerprint}")
    if not accept_all:
        if stdin_used or not sys.stdin.isatty():
            raise InvalidInput("nothing was imported: check the host keys above and run again with "
                               "--accept-host-keys to trust them")
        answer = input(f"trust these {len(presented)} host keys? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise InvalidInput("nothing was imported: the host keys were not accepted")
    return {name: key[2] for name, key in presented.items()}
