"""Start-up of the frozen LabDeck: from launching the executable to the main window's first
paint, against references measured in the same run, plus the bundle's size.

    xvfb-run -a /tmp/venv/bin/python -m bench.bench_startup [--runs 10] [--app dist/labdeck]

Each start is timed from just before the process is spawned to the wall-clock time the process
prints at the main window's first paint (``labdeck --startup-probe``; the window is then closed).
Measured, interleaved, ``--runs`` times each after one unmeasured warm-up start each (so the
page cache is warm for all; a truly cold disk would need dropping the caches, which a shared
machine should not do):

  frozen    the one-folder build's executable (built into a temp folder by installer/build.py
            unless --app points at one), on a catalog that already exists (as a user's would)
  source    ``python -m labdeck --startup-probe`` on the same kind of catalog
  hello     reference: a bare PySide6 QApplication + QMainWindow, same first-paint probe
  python    reference floor: ``python -c pass`` to its exit

Uses the X server in DISPLAY when there is one (run it under xvfb-run), else Qt's offscreen
platform. Target: frozen < 1 s (median). Always exits 0: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
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

TARGET_S = 1.0
HELLO = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication(sys.argv[:1])
class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print(f"startup-probe: painted_at={time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
window = QMainWindow()
window.setCentralWidget(QLabel("hello"))
window.resize(1280, 800)
probe = FirstPaint()
window.installEventFilter(probe)
window.show()
app.exec()
"""


def timed_start(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` to the first paint it reports (``python -c pass``: to its exit)."""
    spawned = time.time()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    for line in result.stdout.splitlines():
        if line.startswith("startup-probe: painted_at="):
            return float(line.split("=", 1)[1].split()[0]) - spawned
    if argv[-1] != "pass":
        raise SystemExit(f"no first paint reported by {argv[0]} (exit {result.returncode}):\n"
                         f"{result.stdout}{result.stderr}")
    return time.time() - spawned


def bundle_size(folder: Path) -> tuple[float, int]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 2**20, len(files)


def build(out: Path) -> tuple[Path, float]:
    started = time.monotonic()
    subprocess.run([sys.executable, str(REPO_ROOT / "installer" / "build.py"), "--dist", str(out / "dist"),
                    "--work", str(out / "work")], check=True, stdout=subprocess.DEVNULL)
    return out / "dist" / "labdeck", time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--app", type=Path, help="an existing one-folder build (default: build one now)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "PYTHONPATH")}
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory(prefix="labdeck-bench-startup-") as tmp:
        tmp_path = Path(tmp)
        app_dir, build_s = (args.app.resolve(), None) if args.app else build(tmp_path)
        exe = app_dir / ("labdeck-cli.exe" if sys.platform == "win32" else "labdeck")
        data = str(tmp_path / "data")
        commands = {
            "frozen": [str(exe), "--data-dir", data, "--startup-probe"],
            "source": [sys.executable, "-m", "labdeck", "--data-dir", data, "--startup-probe"],
            "hello": [sys.executable, "-c", HELLO],
            "python": [sys.executable, "-c", "pass"],
        }
        first_frozen = timed_start(commands["frozen"], env)  # also creates and seeds the catalog
        for argv in list(commands.values())[1:]:
            timed_start(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(timed_start(argv, env))
        size_mb, files = bundle_size(app_dir)

    med = {name: statistics.median(values) for name, values in times.items()}
    platform_name = "offscreen" if env.get("QT_QPA_PLATFORM") == "offscreen" else "the X server in DISPLAY"
    ROWS.append(Row("frozen start to first paint, median", f"{med['frozen']:.3f} s", f"{med['hello']:.3f} s (hello)",
                    f"{med['frozen'] / med['hello']:.2f}x", f"< {TARGET_S:.0f} s", med["frozen"] < TARGET_S))
    ROWS.append(Row("   p90", f"{pct(times['frozen'], 0.9):.3f} s", f"{pct(times['hello'], 0.9):.3f} s (hello)",
                    f"{pct(times['frozen'], 0.9) / pct(times['hello'], 0.9):.2f}x", "-", None))
    ROWS.append(Row("from source (python -m labdeck), median", f"{med['source']:.3f} s",
                    f"{med['frozen']:.3f} s (frozen)", f"{med['source'] / med['frozen']:.2f}x", "-", None))
    ROWS.append(Row("python -c pass, median", f"{med['python']:.3f} s", "-", "-", "-", None))
    ROWS.append(Row("first frozen start (new catalog, after build)", f"{first_frozen:.3f} s", "-", "-", "-", None))
    ROWS.append(Row("bundle size", f"{size_mb:.1f} MB, {files} files", "-", "-", "-", None))
    if build_s is not None:
        ROWS.append(Row("build time (installer/build.py)", f"{build_s:.0f} s", "-", "-", "-", None))
    NOTES.append(f"{args.runs} interleaved runs each; Qt platform: {platform_name}; {platform.platform()}, "
                 f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print_table("reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
