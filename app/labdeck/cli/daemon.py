"""``labdeck daemon``: the catalog's engine and its scheduler, headless, until Ctrl-C or SIGTERM.
The daemon is a client of the catalog's engine service (started if none runs); it asks it to
fire the schedules and prints what happens. Stopping it stops the engine too when no other
LabDeck process (the app) is connected: attached runs are cancelled (their processes on the
nodes killed), planned runs end "interrupted" and resume at the next start."""

from __future__ import annotations

import signal
import sys
import threading
import time


def register(sub) -> None:
    daemon = sub.add_parser("daemon", help="run scheduled jobs headless until stopped (Ctrl-C or SIGTERM)")
    daemon.add_argument("--quiet", action="store_true", help="do not print run starts and ends")
    daemon.set_defaults(handler=cmd_daemon)


def _say(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", file=sys.stderr, flush=True)


def cmd_daemon(args) -> int:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in stop_signals()}
    from ..store.schedules import ScheduleStore
    from .common import connect_engine

    try:
        engine = connect_engine(args)
        try:
            if not args.quiet:  # before the scheduler starts: a catch-up run may start at once
                engine.bus.subscribe(_print_event)
            engine.start_scheduler()
            store = ScheduleStore(engine.catalog)
            count = len([s for s in store.list() if s.enabled])
            paused = " (all scheduling is paused)" if store.paused() else ""
            _say(f"labdeck daemon: {count} schedule(s) active{paused}; Ctrl-C or SIGTERM stops it")
            while not stop.wait(0.5):
                pass
            running = [r.id for r in engine.catalog.active_runs()]
            _say("stopping" + (f": cancelling run(s) {', '.join(map(str, running))}" if running else ""))
        finally:
            engine.close(cancel_running=True, stop_engine=True)
        _say("stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_signals() -> list[int]:
    """SIGTERM and Ctrl-C everywhere; on Windows also Ctrl-Break (SIGBREAK), the console's way to
    stop a process without a window (there is no SIGTERM sender there)."""
    return [signal.SIGTERM, signal.SIGINT] + ([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else [])


def _print_event(event) -> None:
    from ..core.events import Notification, RunFinished, RunStarted
    if isinstance(event, RunStarted):
        _say(f"run {event.run_id} of {event.job_name} started on {', '.join(event.nodes)}")
    elif isinstance(event, RunFinished):
        _say(f"run {event.run_id} of {event.job_name} {event.status}")
    elif isinstance(event, Notification) and event.kind == "missed":
        _say(event.text)
