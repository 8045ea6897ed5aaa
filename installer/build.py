#!/usr/bin/env python3
"""Build LabDeck for the OS this runs on: the one-folder application in dist/labdeck/ (PyInstaller,
installer/labdeck.spec) and, on Windows when Inno Setup's ISCC is installed, the installer in
dist/installer/. The same command runs in `.ci/run` (through the tests) and in the release workflow.

    python installer/build.py                 # dist/labdeck/
    python installer/build.py --self-test     # then run the built app's --self-test
    python installer/build.py --onefile       # one executable instead of a folder
    python installer/build.py --archive       # also pack dist/labdeck/ as LabDeck-<version>-<os>.zip / .tar.gz
    python installer/build.py --dist D --work W

Run it with the Python whose environment has LabDeck's dependencies and PyInstaller installed
(`pip install -e .[test]` provides both).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from version_info import read_version  # noqa: E402

WINDOWS = sys.platform == "win32"
ISCC_PLACES = [r"C:\Program Files (x86)\Inno Setup 6\ISCC.exe", r"C:\Program Files\Inno Setup 6\ISCC.exe"]


def say(text: str) -> None:
    print(f"[build] {text}", flush=True)


def executable(app_dir: Path, onefile: bool) -> Path:
    """The console executable of a build (what runs --self-test and the command line)."""
    if onefile:
        return app_dir.parent / ("LabDeck.exe" if WINDOWS else "labdeck")
    return app_dir / ("labdeck-cli.exe" if WINDOWS else "labdeck")


def folder_size(folder: Path) -> tuple[int, int]:
    """Bytes and files, each file once (the bundle links some libraries under a second name)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def find_iscc() -> str | None:
    return shutil.which("iscc") or next((p for p in ISCC_PLACES if Path(p).is_file()), None)


def run_pyinstaller(dist: Path, work: Path, onefile: bool) -> None:
    env = os.environ | {"LABDECK_ONEFILE": "1" if onefile else "0"}
    # Not --clean: it empties PyInstaller's cache, which other builds on this machine share (and
    # may be reading at that moment). Only this build's own work folder starts empty, so its
    # analysis is always fresh.
    shutil.rmtree(work, ignore_errors=True)
    argv = [sys.executable, "-m", "PyInstaller", str(HERE / "labdeck.spec"), "--noconfirm",
            "--log-level", "WARN", "--distpath", str(dist), "--workpath", str(work)]
    say(" ".join(argv))
    if subprocess.call(argv, env=env, cwd=ROOT) != 0:
        sys.exit("[build] PyInstaller failed (its messages are above)")


def run_iscc(iscc: str, app_dir: Path, out_dir: Path, version: str) -> Path:
    argv = [iscc, "/Q", f"/DAppVersion={version}", f"/DSourceDir={app_dir}", f"/DResourcesDir={ROOT / 'resources'}",
            f"/O{out_dir}", str(HERE / "labdeck.iss")]
    say(" ".join(argv))
    if subprocess.call(argv) != 0:
        sys.exit("[build] Inno Setup failed (its messages are above)")
    return out_dir / f"LabDeck-{version}-setup.exe"


def archive(app_dir: Path, version: str) -> Path:
    """The one-folder app packed for download: zip on Windows, tar.gz (keeps symlinks and the
    executable bit) elsewhere."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    base = app_dir.parent / f"LabDeck-{version}-{system}-{platform.machine().lower()}"
    fmt = "zip" if WINDOWS else "gztar"
    return Path(shutil.make_archive(str(base), fmt, root_dir=app_dir.parent, base_dir=app_dir.name))


def self_test(exe: Path) -> int:
    say(f"{exe} --self-test")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}  # the build has only keyring's own
    return subprocess.call([str(exe), "--self-test"], env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (default: build/)")
    parser.add_argument("--onefile", action="store_true", help="one executable instead of a folder")
    parser.add_argument("--self-test", action="store_true", help="run the built app's --self-test afterwards")
    parser.add_argument("--archive", action="store_true", help="pack the one-folder app as a .zip / .tar.gz")
    parser.add_argument("--no-installer", action="store_true", help="on Windows, skip Inno Setup")
    args = parser.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()
    version = read_version()
    say(f"LabDeck {version} for {sys.platform}, Python {sys.version.split()[0]}")
    started = time.monotonic()
    run_pyinstaller(dist, work, args.onefile)
    app_dir = dist / "labdeck"
    exe = executable(app_dir, args.onefile)
    if not exe.is_file():
        sys.exit(f"[build] PyInstaller finished but {exe} is missing")
    size, count = folder_size(app_dir) if not args.onefile else (exe.stat().st_size, 1)
    say(f"built {exe} ({size / 2**20:.1f} MB in {count} files, {time.monotonic() - started:.0f} s)")
    if WINDOWS and not args.onefile and not args.no_installer:
        iscc = find_iscc()
        if iscc:
            say(f"installer: {run_iscc(iscc, app_dir, dist / 'installer', version)}")
        else:
            say("Inno Setup (ISCC.exe) not found: no installer built; install Inno Setup 6 for one")
    if args.self_test:
        code = self_test(exe)
        if code != 0:
            sys.exit(f"[build] the built app's self-test failed (exit {code})")
    if args.archive and not args.onefile:
        say(f"archive: {archive(app_dir, version)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
