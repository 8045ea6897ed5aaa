"""Start-up of a read-only CLI command: ``labdeck node list`` on an existing catalog, against
references measured in the same run.

    .venv/bin/python -m bench.bench_cli_startup [--runs 20]

Measured, interleaved, ``--runs`` times each after one unmeasured warm-up each:

  labdeck   ``python -m labdeck.cli --data-dir D node list`` (the installed ``labdeck`` script
            does the same), on a catalog with 20 nodes (3 of them down), 5 jobs and 200 runs
  sqlite    reference: ``python -c`` that opens the same catalog with the standard sqlite3
            module and reads the nodes table (the least a Python CLI can do for this command)
  python    reference floor: ``python -c pass``

Target (issue 16): labdeck median <= 0.2 s on the project's 2-core machine. Always exits 0:
this is a report, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for p in (REPO_ROOT, REPO_ROOT / "app"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench.report import NOTES, ROWS, Row, pct, print_table  # noqa: E402

TARGET_S = 0.2


def make_catalog(data_dir: Path) -> Path:
    from labdeck.core.models import Job, Node, Step, Transport, Trigger
    from labdeck.store import paths
    from labdeck.store.catalog import Catalog

    catalog = Catalog(paths.catalog_path(data_dir))
    catalog.set_setting("seeded", "1")
    for i in range(20):
        catalog.add_node(Node(name=f"node{i:02d}", transport=Transport.SSH, host=f"10.0.0.{i + 1}", username="lab",
                              tags=["lab"]))
    for i in range(5):
        catalog.add_job(Job(name=f"job{i}", steps=[Step(command="true")], targets="tag:lab"))
    for i in range(200):
        run, _ = catalog.create_run(f"job{i % 5}", None, Trigger.CLI, {}, "tag:lab", ["node00"],
                                    lambda run_id, node: data_dir / f"{run_id}.log")
        catalog.finish_run(run.id, run.status.__class__("succeeded"))
    from labdeck.store import node_down
    for i in range(3):  # nodes the engine found down: the list shows "down since HH:MM: <reason>"
        node_down.mark_down(catalog, f"node{i:02d}", time.time(), "connection refused")
    catalog.close()
    return paths.catalog_path(data_dir)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed (exit {result.returncode}): {result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "app"), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory(prefix="labdeck-bench-cli-") as tmp:
        data_dir = Path(tmp)
        db = make_catalog(data_dir)
        commands = {
            "labdeck": [sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "node", "list"],
            "sqlite": [sys.executable, "-c", f"import sqlite3; c = sqlite3.connect({str(db)!r}); "
                                             "print(c.execute('SELECT * FROM nodes').fetchall())"],
            "python": [sys.executable, "-c", "pass"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():
            timed(argv, env)  # warm-up: the page cache and .pyc files
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(timed(argv, env))
    med = {name: statistics.median(values) for name, values in times.items()}
    ROWS.append(Row("`labdeck node list` vs sqlite3 read, median", f"{med['labdeck'] * 1000:.0f} ms",
                    f"{med['sqlite'] * 1000:.0f} ms", f"{med['labdeck'] / med['sqlite']:.2f}x",
                    f"<= {TARGET_S * 1000:.0f} ms", med["labdeck"] <= TARGET_S))
    ROWS.append(Row("`labdeck node list` vs `python -c pass`, median", f"{med['labdeck'] * 1000:.0f} ms",
                    f"{med['python'] * 1000:.0f} ms", f"{med['labdeck'] / med['python']:.2f}x", "-", None))
    ROWS.append(Row("`labdeck node list`, p90", f"{pct(times['labdeck'], 0.9) * 1000:.0f} ms",
                    f"{pct(times['sqlite'], 0.9) * 1000:.0f} ms", "-", "-", None))
    NOTES.append(f"{args.runs} runs each, interleaved; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
