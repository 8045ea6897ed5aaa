"""``labdeck --self-test``: proves an installation works end to end, for CI on the frozen build
and for a user who wonders. It starts the engine the way the app does (in its child process,
which a frozen build starts as itself), opens the main window (offscreen when there is no
display) on a catalog in a temporary folder (seeded with this computer and the sample job),
runs the sample job while the window follows it, checks what Windows paths load lazily, the
time zones and a local command with quotes and non-ASCII words (self_test_platform.py), prints
each check and returns 0 only if all of them passed. Nothing of the user's (catalog, keyring, settings) is touched."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .self_test_platform import check_lazy_imports, check_local_command, check_time_zones

PLATFORM_KEYRINGS = {"win32": "keyring.backends.Windows", "darwin": "keyring.backends.macOS"}


class Checks:
    def __init__(self, out):
        self.out = out
        self.failed: list[str] = []
        self.passed = 0

    def check(self, ok: bool, text: str) -> bool:
        self.out(f"  {'ok  ' if ok else 'FAIL'}  {text}")
        if ok:
            self.passed += 1
        else:
            self.failed.append(text)
        return ok


def needs_offscreen(environ=os.environ, platform: str = sys.platform) -> bool:
    """No display to show a window on (Linux without X or Wayland) and no platform chosen."""
    if environ.get("QT_QPA_PLATFORM") or platform in ("win32", "darwin"):
        return False
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def process_events_until(app, done, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def run_self_test(out=print) -> int:
    if needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from .. import __version__
    from .dialogs.about_dialog import build_details

    out(f"LabDeck {__version__} self-test — {build_details()['Build']}")
    checks = Checks(out)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labdeck-self-test-", ignore_cleanup_errors=True) as tmp:
        try:
            _run_checks(checks, Path(tmp))
        except Exception as exc:  # whatever broke, the report says what and the exit code says so
            checks.check(False, f"unexpected {exc.__class__.__name__}: {exc}")
            traceback.print_exc()
    elapsed = time.monotonic() - started
    if checks.failed:
        out(f"self-test FAILED: {len(checks.failed)} of {len(checks.failed) + checks.passed} checks ({elapsed:.1f} s)")
        return 1
    out(f"self-test passed: {checks.passed} checks ({elapsed:.1f} s)")
    return 0


def _run_checks(checks: Checks, data_dir: Path) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    checks.check(True, f"Qt started with the '{app.platformName()}' platform plugin")
    _check_icons(checks)
    _check_keyring(checks)
    check_lazy_imports(checks)
    check_time_zones(checks)
    check_local_command(checks, data_dir / "local-check")

    from ..engine.seed import LOCAL_NODE, SAMPLE_JOB
    from .app import start_engine
    from .main_window import MainWindow

    engine = start_engine(data_dir)
    kind = type(engine).__name__
    window = None
    try:
        nodes = [n.name for n in engine.catalog.list_nodes()]
        jobs = [j.name for j in engine.catalog.list_jobs()]
        if not checks.check(LOCAL_NODE in nodes and SAMPLE_JOB in jobs,
                            f"engine started ({kind}); catalog opened in {data_dir}: nodes {nodes}, jobs {jobs}"):
            return
        window = MainWindow(engine, use_tray=False)
        window.show()
        exposed = process_events_until(app, lambda: window.windowHandle() is not None
                                       and window.windowHandle().isExposed(), 15)
        model = window.nodes_page.model
        listed = [model.index(row, 0).data() for row in range(model.rowCount())]
        checks.check(exposed and LOCAL_NODE in listed,
                     f"main window shown ({window.width()}x{window.height()}, exposed: {exposed}); "
                     f"the nodes page lists {listed}")
        _check_sample_run(checks, app, engine, window, LOCAL_NODE, SAMPLE_JOB)
    finally:
        if window is not None:
            window._quitting = True
            window.close()
            window.bridge.detach()
        engine.close()


def _check_icons(checks: Checks) -> None:
    from .icons import TRAY_STATES, app_icon, resources_dir, tray_icon

    folder = resources_dir()
    sizes = [s.width() for s in app_icon().availableSizes()]
    trays_ok = all(tray_icon(state).availableSizes() for state in TRAY_STATES)
    checks.check(folder is not None and 256 in sizes and trays_ok,
                 f"icons: app icon sizes {sizes}, tray icons for {', '.join(TRAY_STATES)} (from {folder})")


def _check_keyring(checks: Checks) -> None:
    """The keyring backends are found the way keyring finds them (entry points, which a frozen
    build only has if their metadata was bundled); only reads which backend is active."""
    import keyring

    found = {ep.value.split(":")[0] for ep in importlib.metadata.entry_points(group="keyring.backends")}
    active = keyring.get_keyring()
    active_name = f"{type(active).__module__}.{type(active).__name__}"
    wanted = PLATFORM_KEYRINGS.get(sys.platform, "keyring.backends.SecretService")
    ok = wanted in found and (sys.platform not in PLATFORM_KEYRINGS or active_name.startswith(wanted))
    checks.check(ok, f"keyring: backends {sorted(found)}; active: {active_name} (needs {wanted})")


def _check_sample_run(checks: Checks, app, engine, window, node: str, job: str) -> None:
    finished: list[tuple[int, str, str]] = []
    window.bridge.runFinished.connect(lambda run_id, name, status: finished.append((run_id, name, status)))
    run = engine.start_job(job)
    window.open_run(run.id)
    done = process_events_until(app, lambda: any(f[0] == run.id for f in finished), 60)
    status = engine.catalog.get_run(run.id).status.value
    node_runs = engine.catalog.node_runs(run.id)
    nr = next((n for n in node_runs if n.node_name == node), None)
    log = Path(nr.log_path).read_text(encoding="utf-8", errors="replace") if nr and nr.log_path else ""
    first_line = log.strip().splitlines()[0] if log.strip() else "(empty log)"
    checks.check(done and status == "succeeded" and nr is not None and nr.exit_code == 0 and "Hello from" in log,
                 f"job '{job}' ran on {node}: run {status}, exit code {nr.exit_code if nr else None}, "
                 f"the window saw it end: {done}; log: {first_line!r}")
    view = window.run_view
    view.reload()
    view.tabs.setCurrentWidget(view.timeline)   # builds the chart: pyqtgraph and numpy are in the build
    process_events_until(app, lambda: view.timeline.built, 10)
    bars = [(b.node, b.status) for b in view.timeline.bars]
    checks.check(view.timeline.built and bars == [(node, "succeeded")], f"run timeline drawn (pyqtgraph): bars {bars}")
