"""``labdeck put`` and ``labdeck get``: distribute files to nodes and collect results from them,
with a progress line on a terminal, a line per node as it ends, and ``--json`` results."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .argtypes import path_text, whole_number
from .common import open_engine, parse_pairs, print_json

if TYPE_CHECKING:
    from ..core.transfers import Direction, TransferProgress

EXIT_TRANSFER_FAILED = 1


def register(sub) -> None:
    put = sub.add_parser("put", help="copy local files or folders to a folder on every target node")
    put.add_argument("sources", nargs="+", metavar="SRC",
                     type=path_text("local path", "give a local file or folder (. for this folder)"),
                     help="local file or folder (may use ${node.name})")
    put.add_argument("--to", required=True, metavar="REMOTE_DIR",
                     type=path_text("remote folder",
                                    "give the folder on each node to copy into (. for the login folder)"),
                     help="folder on each node (created if missing; may use ${node.name})")
    _common(put)
    put.set_defaults(handler=cmd_put)

    get = sub.add_parser("get", help="collect remote files, folders or globs from every target node "
                                     "into LOCAL_DIR/<node>/")
    get.add_argument("sources", nargs="+", metavar="REMOTE",
                     type=path_text("remote path", "give a remote file, folder or glob (. for the whole login folder)"),
                     help="remote path or glob (quote it: 'out/*.csv')")
    get.add_argument("--to", required=True, metavar="LOCAL_DIR",
                     type=path_text("local folder", "give the folder to collect into (. for this folder)"),
                     help="local folder; each node gets a subfolder")
    _common(get)
    get.set_defaults(handler=cmd_get)


def _common(parser) -> None:
    parser.add_argument("--targets", required=True, metavar="SPEC", help="node names, tag:NAME, all (see README)")
    parser.add_argument("--max-parallel", type=whole_number(0, 100_000), default=0, metavar="N",
                        help="nodes at once (default: all)")
    parser.add_argument("-p", "--param", action="append", metavar="K=V", help="a value for ${option.K} in paths")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def cmd_put(args) -> int:
    from ..core.transfers import Direction
    return _transfer(args, Direction.PUT)


def cmd_get(args) -> int:
    from ..core.transfers import Direction
    return _transfer(args, Direction.GET)


def _here(path: str) -> str:
    """A local path made absolute against this process's folder (``~`` is left to the engine)."""
    return path if path.startswith("~") or os.path.isabs(path) else os.path.join(os.getcwd(), path)


def _transfer(args, direction: Direction) -> int:
    from ..core.transfers import Direction
    from ..engine.transfers import TransferRequest

    # local paths are this terminal's: the engine that moves the files runs in another folder
    sources = [_here(s) for s in args.sources] if direction is Direction.PUT else list(args.sources)
    to = _here(args.to) if direction is Direction.GET else args.to
    if direction is Direction.GET and "${" not in to and Path(to).expanduser().exists() \
            and not Path(to).expanduser().is_dir():
        from ..core.errors import InvalidInput
        raise InvalidInput(f"--to {args.to} is a file: give a folder to collect into (each node gets a subfolder)")
    params = parse_pairs(args.param, "-p")
    _refuse_unused(params, [*args.sources, args.to])
    request = TransferRequest(direction, sources, to, args.targets, args.max_parallel, params)
    with open_engine(args) as engine:
        progress = _TerminalProgress(enabled=sys.stderr.isatty() and not args.json)
        engine.bus.subscribe(progress.on_event)
        transfer = engine.transfers.start(request)
        progress.transfer_id = transfer.id
        try:
            while not engine.transfers.wait(transfer.id, 0.2):
                progress.draw()
        except KeyboardInterrupt:
            print("\ncancelling the transfer (part files are kept; run the command again to resume)...",
                  file=sys.stderr)
            engine.transfers.cancel(transfer.id)
            engine.transfers.wait(transfer.id)
        progress.finish()
        results = engine.transfers.results(transfer.id)
        ok = len(results) == len(transfer.nodes) and all(r.ok for r in results)
        if args.json:
            print_json({"transfer": transfer.id, "direction": str(direction), "ok": ok,
                        "nodes": [r.as_dict() for r in results]})
        else:
            for r in results:
                if r.ok:
                    moved = sum(1 for f in r.files if f.outcome != "skipped")
                    print(f"  {r.node}: ok, {moved} file(s) copied, {len(r.files) - moved} already there, "
                          f"{_size(r.bytes_done)} in {r.seconds:.1f} s", file=sys.stderr)
                    if r.renamed:
                        print(f"  {r.node}: {r.renamed_text()}", file=sys.stderr)
                else:
                    print(f"  {r.node}: failed: {r.error}", file=sys.stderr)
        return 0 if ok else EXIT_TRANSFER_FAILED


def _refuse_unused(params: dict[str, str], paths: list[str]) -> None:
    """A -p value only fills ${option.K} in paths: one no path uses is a typo, never silently dropped."""
    from ..core.errors import InvalidInput
    from ..core.transfers import option_names_used
    used = option_names_used(paths)
    for name in params:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidInput(f"-p {name}: a name paths can use as ${{option.NAME}} is letters, digits and '_', "
                               "starting with a letter")
        if name not in used:
            named = ", ".join(sorted(used)) or "none"
            raise InvalidInput(f"-p {name}: no path uses ${{option.{name}}} (the paths use: {named}); "
                               "drop it or write ${option." + name + "} into a path")


class _TerminalProgress:
    """One line on stderr, redrawn in place: bytes, speed, ETA and nodes done."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.transfer_id: int | None = None
        self._nodes: dict[str, TransferProgress] = {}
        self._finished = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._width = 0

    def on_event(self, event) -> None:
        if getattr(event, "transfer_id", None) != self.transfer_id:
            return
        from ..core.transfers import TransferNodeFinished, TransferProgress
        with self._lock:
            if isinstance(event, TransferProgress):
                self._nodes[event.node] = event
            elif isinstance(event, TransferNodeFinished):
                self._finished += 1

    def draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            done = sum(p.bytes_done for p in self._nodes.values())
            total = sum(p.bytes_total for p in self._nodes.values())
            finished = self._finished
        elapsed = max(1e-6, time.monotonic() - self._started)
        speed = done / elapsed
        pct = 100 * done / total if total else 0
        eta = f"ETA {(total - done) / speed:.0f} s" if speed > 0 and total > done else ""
        line = f"{pct:5.1f}%  {_size(done)} of {_size(total)}  {_size(speed)}/s  {eta}  nodes done: {finished}"
        self._width = max(self._width, len(line))
        sys.stderr.write("\r" + line.ljust(self._width))
        sys.stderr.flush()

    def finish(self) -> None:
        """The final figures stay on screen above the per-node lines."""
        if self.enabled:
            self.draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
