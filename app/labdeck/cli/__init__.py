"""The ``labdeck`` command line: the same engine as the desktop app, headless.

Every error is one clear line on stderr and a non-zero exit; ``labdeck`` alone opens the app.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from ..core.errors import LabDeckError
from .argtypes import OneLineParser

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)
ENGINE_PROCESS_FLAG = "--engine-process"  # engine_process.CHILD_FLAG (not imported: it costs every command)


def _add_global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data-dir", metavar="DIR",
                        help="catalog and logs folder (default: $LABDECK_HOME or the user data folder)")
    parser.add_argument("--verbose", action="store_true", help="log engine details to stderr")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation: open the window, run the sample job in a temporary catalog")
    parser.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)  # bench/bench_startup.py
    parser.add_argument("--minimized", action="store_true",
                        help="open the desktop app in the tray (or minimised): what the Windows autostart uses")
    return parser


@contextlib.contextmanager
def _without_numpy():
    """sqlite-utils imports numpy and pandas when they are installed (the app's charts bring
    numpy: ~40 ms of every command), and LabDeck's catalog never hands it their types; so the
    command modules (and the catalog under them) are imported without them. Later imports of
    numpy work as usual."""
    blocked = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # "import numpy" raises ImportError while this is here
    try:
        yield
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def build_parser() -> argparse.ArgumentParser:
    # The command modules import the engine (paramiko and all); only commands need them.
    with _without_numpy():
        from . import daemon, jobs, nodes, notify, policy, projects, queue, runs, schedules, settings, transfers

    parser = OneLineParser(prog="labdeck", description="Run and watch batch jobs across your lab's machines.")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    nodes.register(sub)
    jobs.register(sub)
    projects.register(sub)
    runs.register(sub)
    schedules.register(sub)
    policy.register(sub)
    notify.register(sub)
    settings.register(sub)
    daemon.register(sub)
    transfers.register(sub)
    queue.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == [ENGINE_PROCESS_FLAG]:  # the app's engine (frozen builds)
        from ..engine.engine_process import child_main
        return child_main()
    raw = sys.argv[1:] if argv is None else list(argv)
    args, rest = _add_global_options(OneLineParser(prog="labdeck", add_help=False)).parse_known_args(raw)
    if rest:  # a command (or --help): the full parser; without one the app starts without the engine's imports
        args = build_parser().parse_args(raw)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.self_test or args.startup_probe:
        return _app_check(args)
    if not getattr(args, "handler", None):
        return _open_app(args)
    try:
        code = args.handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not in the interpreter's last flush
        return code
    except LabDeckError as exc:
        print(f"labdeck: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("labdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (labdeck runs --json | head): stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug or an environment problem: one line, details on request
        if args.verbose:
            raise
        print(f"labdeck: error: unexpected {exc.__class__.__name__}: {exc} (run again with --verbose for details)",
              file=sys.stderr)
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush of what is still
    buffered cannot fail a second time with "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (an embedding host, a test's capture)
        pass


def _open_app(args) -> int:
    try:
        from ..gui.app import run_app
    except ImportError:
        build_parser().print_help()
        return 0
    if not _display_available():
        print("labdeck: error: no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset); "
              "run it in a graphical session, or use the command line: labdeck --help", file=sys.stderr)
        return EXIT_ERROR
    try:
        return run_app(args.data_dir, minimized=args.minimized)
    except LabDeckError as exc:  # e.g. a data folder that is a file or read-only
        print(f"labdeck: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _app_check(args) -> int:
    try:
        from ..gui.self_test import run_self_test
        from ..gui.startup_probe import run_startup_probe
    except ImportError as exc:
        print(f"labdeck: error: the desktop app is not installed ({exc}); install labdeck[gui]", file=sys.stderr)
        return EXIT_ERROR
    return run_self_test() if args.self_test else run_startup_probe(args.data_dir)


def _display_available() -> bool:
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    sys.exit(main())
