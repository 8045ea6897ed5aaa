"""Screenshots for the docs: starts the real app (real engine, real sshd nodes) under Xvfb
with a throw-away data folder full of realistic content, and saves docs/nodes.png (the
dashboard), docs/jobs.png (with a job's trend), docs/job_editor.png, docs/run.png,
docs/run_timeline.png, docs/runs.png, docs/log.png, docs/schedules.png, docs/transfers.png,
docs/queue.png, docs/import_dialog.png, docs/projects.png,
docs/runs_by_project.png, docs/job_refs.png, the window at 1600x1000 and 1024x640
(docs/small-*.png, docs/large-*.png), and dark mode (docs/dark-run_timeline.png; the other dark
shots go to a temporary folder).

    python tools/screenshots.py          # re-runs itself under xvfb-run when there is no display
    python tools/screenshots.py import_dialog.png   # only the shots named (also: run_timeline.png, dark)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]

TRAINING_SCRIPT = """#!/bin/sh
# Generate synthetic training samples in batches.
echo "generating ${LABDECK_OPTION_SAMPLES} samples (seed ${LABDECK_OPTION_SEED}) on $(hostname)"
i=1
while [ $i -le 40 ]; do
  echo "batch $i/40: wrote $((i * 250)) samples to /data/train/shard-$i.npz"
  [ $((i % 4)) -eq 0 ] && echo "::progress $((i * 100 / 40))"
  sleep 0.1
  i=$((i + 1))
done
echo "waiting for the GPU queue"
sleep ${LABDECK_OPTION_HOLD}
echo done
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def populate(engine, cluster_dir: Path):
    from labdeck.core.models import Job, JobOption, JobPolicy, Node, Step, StepKind, Transport
    from tests.support.sshd import SshdCluster, ensure_password_user

    user, password = ensure_password_user()
    cluster = SshdCluster(cluster_dir)
    sshds = cluster.start_nodes(3)
    for sshd, name, tags in zip(sshds, ["gpu-01", "gpu-02", "win-lab-03"],
                                [["gpu", "linux-lab"], ["gpu", "linux-lab"], ["windows-lab", "cpu"]], strict=True):
        engine.add_node(Node(name=name, host=sshd.host, port=sshd.port, username=user, tags=tags),
                        secret=password, accept_host_key=True)
    engine.add_node(Node(name="win-lab-04", transport=Transport.SSH, host="127.0.0.1", port=_closed_port(),
                         username="lab", tags=["windows-lab", "cpu"]), check=False)
    cat = engine.catalog
    cat.add_job(Job(name="generate-training-data",
                    description="Synthetic samples for the detector, sharded per GPU node",
                    targets="tag:gpu", steps=[Step(kind=StepKind.SCRIPT, name="generate", script=TRAINING_SCRIPT,
                                                   filename="generate.sh")],
                    options=[JobOption("samples", "10000", "samples per node"), JobOption("seed", "42"),
                             JobOption("hold", "0", "seconds to wait at the end")],
                    policy=JobPolicy(timeout_s=6 * 3600, retries=1), project="ml-training"))
    cat.add_job(Job(name="collect-results", description="Pull result summaries from every lab machine",
                    targets="all,!this-computer",
                    steps=[Step(command="echo collecting from $(hostname); ls -la /tmp | head -5")],
                    policy=JobPolicy(timeout_s=600), project="ml-training"))
    cat.add_job(Job(name="staggered", description="Shards of different sizes; one node fails and retries",
                    targets="all,!win-lab-04", policy=JobPolicy(retries=1, retry_delay_s=0),
                    steps=[Step(command='case "$LABDECK_NODE" in gpu-01) n=6;; gpu-02) n=3;; win-lab-03) n=8;; '
                                        '*) n=2;; esac; i=0; while [ $i -lt $n ]; do i=$((i+1)); '
                                        'echo "::progress $((i * 100 / n))"; sleep 0.5; done; '
                                        '[ "$LABDECK_NODE" = gpu-02 ] && exit 1; exit 0')]))
    cat.add_job(Job(name="long-shard", description="Big shards: one node hangs and is restarted, one retries",
                    targets="tag:gpu", policy=JobPolicy(max_runtime_s=4, max_restarts=1, retries=1, retry_delay_s=1),
                    steps=[Step(command='echo "shard on $LABDECK_NODE"; '
                                        '[ "$LABDECK_NODE" = gpu-02 ] && { sleep 1; exit 1; }; sleep 30')],
                    project="ml-training"))
    cat.add_job(Job(name="disk-report", description="Free space on every node", targets="all",
                    steps=[Step(command="df -h / | tail -1")], project="ops"))
    cat.add_job(Job(name="nightly-eval", description="Evaluate the latest checkpoint", targets="tag:gpu",
                    steps=[Step(command='echo "evaluating checkpoint"; for i in $(seq 1 2000); do '
                                        'echo "step $i loss=0.$((5000 - i)) acc=0.$((i % 97))"; '
                                        '[ $i -eq 1500 ] && echo "ERROR: NaN in batch 1500, skipping"; done; '
                                        '[ "$LABDECK_NODE" = gpu-02 ] && exit 2; exit 0')], project="ml-training"))
    return cluster


def probe_history(engine, names, minutes: int = 60, every_s: int = 120) -> None:
    """An hour of probes for the dashboard's sparklines: each sample is a real probe of the node
    (CPU, memory and disk at that moment), stored with the time the engine's periodic probe
    would have taken it (every two minutes; the shots cannot wait an hour). In the middle third
    a burst of CPU work on this machine gives the lines something to show."""
    now = time.time()
    steps = minutes * 60 // every_s
    burner = None
    try:
        for i in range(steps):
            if i == steps // 3:
                burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            if i == 2 * steps // 3 and burner:
                burner.kill()
            for name in names:
                check = engine.test_node(name)
                engine.catalog.mark_node_seen(name, now - (steps - i) * every_s, probe=check.probe)
    finally:
        if burner:
            burner.kill()


def add_schedules(engine):
    """A few schedules of different kinds; one was "missed" twice while LabDeck was closed."""
    from datetime import datetime, timedelta

    from labdeck.core.schedules import CatchUp, Schedule, ScheduleKind
    from labdeck.store.schedules import ScheduleStore

    store = ScheduleStore(engine.catalog)
    store.add(Schedule("generate-training-data", ScheduleKind.CRON, "0 2 * * 1-5", "Europe/Berlin",
                       catch_up=CatchUp.ONCE))
    store.add(Schedule("nightly-eval", ScheduleKind.CRON, "30 2 * * *", "Europe/Berlin"))
    closed = time.time() - 13 * 3600 - 60   # fires 7 h and 1 h ago were missed while LabDeck was closed
    store.add(Schedule("disk-report", ScheduleKind.INTERVAL, repr(6 * 3600.0), "UTC", created_at=closed,
                       last_checked=closed))
    store.add(Schedule("collect-results", ScheduleKind.CRON, "0 */4 * * *", "America/New_York", enabled=False))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    store.add(Schedule("hello", ScheduleKind.DATE, tomorrow.isoformat(), "UTC"))


def composite(background, foreground, path, margin: int = 28) -> None:
    """The page with the dialog floating over its lower right, with a soft shadow."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QPainter, QPen

    base = background.grab()
    top = foreground.grab()
    x, y = base.width() - top.width() - margin, base.height() - top.height() - margin
    p = QPainter(base)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    for i in range(12, 0, -1):
        p.setBrush(QColor(0, 0, 0, 6))
        p.drawRoundedRect(QRectF(x - i, y - i + 4, top.width() + 2 * i, top.height() + 2 * i), 8 + i, 8 + i)
    p.drawPixmap(x, y, top)
    p.setPen(QPen(QColor("#90a4ae"), 1))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(QRectF(x - 0.5, y - 0.5, top.width(), top.height()))
    p.end()
    base.save(str(path))
    print("saved", path)


PIPELINE = """
name: train-pipeline
description: Prepare shards, train two models side by side, evaluate both
targets: tag:gpu
resources: {gpus: 2}
workflow:
  - {name: prepare, placement: any, command: 'echo "shards=64" >> "$LABDECK_OUTPUT"'}
  - {name: train-a, depends_on: [prepare], targets: gpu-01, command: 'sleep 20'}
  - {name: train-b, depends_on: [prepare], targets: gpu-02, command: 'sleep 20'}
  - {name: evaluate, depends_on: [train-a, train-b], placement: any, command: 'echo evaluating'}
on_failure: {name: notify-team, placement: any, command: 'echo "failed: $LABDECK_FAILED_STEPS"'}
"""


def start_queue(engine, pump):
    """A workflow holding both GPU nodes, and a GPU job waiting in the queue for one."""
    from labdeck.core.models import Capacity
    from labdeck.store.jobfile import job_from_yaml

    for name in ("gpu-01", "gpu-02"):
        node = engine.catalog.get_node(name)
        node.capacity = Capacity(gpus=2)
        engine.catalog.update_node(node)
    engine.catalog.add_job(job_from_yaml(PIPELINE), replace=True)
    engine.catalog.add_job(job_from_yaml("name: big-train\ntargets: tag:gpu\nplacement: any\npriority: 5\n"
                                         "resources: {gpus: 2}\nsteps: ['sleep 5']\n"), replace=True)
    flow = engine.start_job("train-pipeline")
    waiting = engine.start_job("big-train")
    pump(4)
    return flow, waiting


def queue_shot(engine, window, pump, shot) -> None:
    flow, waiting = start_queue(engine, pump)
    window.open_run(flow.id)
    shot(window, "queue.png")
    for run in (flow, waiting):
        engine.cancel(run.id)
        engine.wait(run.id, 30)


def transfers_shot(window, pump, shot, tmp: Path) -> None:
    """An upload of a data set to the GPU nodes, caught half-way, on the Transfers page."""
    import pwd

    from tests.support.sshd import ensure_password_user

    source = tmp / "training-set.bin"
    with open(source, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(1 << 20))
    remote = f"labdeck-shots-{tmp.name}"  # in the nodes' login folder
    page = window.transfers_page
    window.show_page(window.stack.indexOf(page))
    dialog = page.upload()
    dialog.sources.setText(str(source))
    dialog.targets.setText("tag:gpu")
    dialog.destination.setText(f"{remote}/${{node.name}}")
    dialog.accept()
    end = time.time() + 30
    while time.time() < end and not any(0 < r.node_pct < 100 for r in page.model.rows):
        pump(0.02)
    shot(window, "transfers.png")
    end = time.time() + 60
    while time.time() < end and any(r.state not in ("done", "failed", "cancelled") for r in page.model.rows):
        pump(0.2)
    shutil.rmtree(Path(pwd.getpwnam(ensure_password_user()[0]).pw_dir) / remote, ignore_errors=True)


def node_dialog_shot(window, pump) -> None:
    """Adding a Windows PC: the WinRM fields, with files over SMB turned on."""
    window.show_page(0)
    dialog = window.nodes_page.add_node()
    dialog.name.setText("win-lab-05")
    dialog.transport.setCurrentText("winrm")
    dialog.host.setText("lab-pc-05.lab.local")
    dialog.user.setText("lab")
    dialog.winrm.smb.setChecked(True)
    dialog.winrm.smb_home.setText(r"C:\Users\lab")
    dialog.adjustSize()
    pump(0.8)
    composite(window, dialog, DOCS / "node_dialog.png")
    dialog.reject()


def import_dialog_shot(window, pump, cluster, tmp: Path) -> None:
    """Importing an ssh config: two new render nodes (host keys read from real sshd servers),
    a gateway, and gpu-01, which exists and is kept."""
    from tests.support.sshd import ensure_password_user

    user, _password = ensure_password_user()
    renders = cluster.start_nodes(2)
    config = tmp / "ssh_config"
    config.write_text("# lab machines\n" + "".join(
        f"Host {name}\n  HostName {s.host}\n  Port {s.port}\n  User {user}\n"
        for name, s in zip(["render-01", "render-02"], renders, strict=True)) +
        "Host gpu-01\n  HostName gpu-01.lab.local\n  User lab\n"
        "Host *\n  IdentityFile ~/.ssh/lab_ed25519\n")
    window.show_page(0)
    dialog = window.nodes_page.import_nodes()
    dialog.path.setText(str(config))
    dialog.load()
    dialog.tags.setText("render")
    dialog.check()
    end = time.time() + 20
    while dialog.busy and time.time() < end:
        pump(0.2)
    dialog.resize(1180, 420)
    pump(0.8)
    composite(window, dialog, DOCS / "import_dialog.png")
    dialog.reject()


def job_refs_shot(engine, window, pump, shot) -> None:
    """A job whose steps run other jobs: the run view lists the child runs (one failed)."""
    from labdeck.core.models import Job, Step, StepKind
    engine.catalog.add_job(Job(name="nightly-pipeline", description="Check disks, then evaluate", targets="gpu-01",
                               project="ml-training",
                               steps=[Step(command="echo preparing the evaluation set", name="prepare"),
                                      Step(kind=StepKind.JOB, job="disk-report", targets="tag:gpu"),
                                      Step(kind=StepKind.JOB, job="nightly-eval")]))
    run = run_and_wait(engine, "nightly-pipeline", timeout=120)
    window.open_run(run.id)
    pump(0.8)
    shot(window, "job_refs.png")


def projects_shots(window, pump, shot) -> None:
    """The Jobs page showing one project, and the history of that project's runs."""
    window.show_page(1)
    page = window.jobs_page
    page.refresh()
    page.project.setCurrentText("ml-training")
    page.select_job("nightly-eval")
    shot(window, "projects.png")
    page.project.setCurrentText("All projects")
    runs = window.runs_page
    window.show_page(window.stack.indexOf(runs))
    runs.refresh()
    runs.project.setCurrentText("ml-training")
    shot(window, "runs_by_project.png")
    runs.project.setCurrentText("All projects")


def sizes_shots(window, pump, shot, run_id: int) -> None:
    """The window as it opens on a 1600x1000 and on a 1024x640 screen (minus a task bar and the
    title bar): the dashboard, the jobs page and a run's timeline must all fit."""
    for prefix, (w, h) in (("large", (1600 - 16, 1000 - 72)), ("small", (1024 - 16, 640 - 72))):
        window.resize(w, h)
        pump(0.5)
        window.show_page(0)
        window.nodes_page.select_names(["gpu-01"])
        shot(window, f"{prefix}-nodes.png")
        window.show_page(1)
        window.jobs_page.select_job("generate-training-data")
        shot(window, f"{prefix}-jobs.png")
        window.open_run(run_id)
        window.run_view.tabs.setCurrentWidget(window.run_view.timeline)
        shot(window, f"{prefix}-run_timeline.png")
        window.run_view.tabs.setCurrentIndex(0)


def show_first_error(window, pump, run_id: int):
    """The run's gpu-02 log scrolled to its first ERROR line, as a user finds it; the log view."""
    window.open_run(run_id)
    window.run_view.select_node("gpu-02")
    pump(0.8)
    log = window.run_view.log
    log.search.setText("ERROR")
    log.area.goto_row(0)
    log.find_next()
    pump(1.0)
    return log


def dark_shots(engine, window, pump, shot, chain_run: int, eval_run: int) -> None:
    """Dark mode: the dashboard, a run's timeline (a restart chain), the queue and a log, at
    1600x1000 and 1024x640; docs keeps dark-run_timeline.png, the rest go to a temporary folder
    for looking at."""
    from PySide6.QtWidgets import QApplication

    from tests.support.palettes import windows_dark_palette

    app = QApplication.instance()
    light = app.palette()
    app.setPalette(windows_dark_palette())   # what Qt sets when Windows switches to dark mode
    extra = Path(tempfile.gettempdir()) / "labdeck-dark-shots"
    extra.mkdir(exist_ok=True)
    flow, waiting = start_queue(engine, pump)
    try:
        for prefix, (w, h) in (("large", (1600 - 16, 1000 - 72)), ("small", (1024 - 16, 640 - 72))):
            window.resize(w, h)
            pump(0.5)
            window.show_page(0)
            window.nodes_page.select_names(["gpu-01"])
            shot(window, extra / f"dark-{prefix}-nodes.png")
            window.open_run(chain_run)
            window.run_view.tabs.setCurrentWidget(window.run_view.timeline)
            window.run_view.select_node("gpu-01")
            kept = DOCS / "dark-run_timeline.png" if prefix == "large" else extra / f"dark-{prefix}-run_timeline.png"
            shot(window, kept)
            window.run_view.tabs.setCurrentIndex(0)
            window.show_page(window.stack.indexOf(window.queue_page))
            shot(window, extra / f"dark-{prefix}-queue.png")
            window.open_run(flow.id)
            shot(window, extra / f"dark-{prefix}-workflow.png")
            log = show_first_error(window, pump, eval_run)
            shot(window, extra / f"dark-{prefix}-log.png")
            log.search.clear()
    finally:
        app.setPalette(light)
        for run in (flow, waiting):
            engine.cancel(run.id)
            engine.wait(run.id, 30)


def run_chain_and_wait(engine, job, timeout=60):
    """Run a job whose runs restart for their max runtime; the last run of the chain."""
    first = run_and_wait(engine, job, timeout=timeout)
    end = time.time() + timeout
    while time.time() < end:
        runs = [r for r in engine.catalog.list_runs(job) if r.id >= first.id]
        if len(runs) > 1 and all(r.status.value not in ("running", "pending") for r in runs):
            return max(runs, key=lambda r: r.id)
        time.sleep(0.2)
    raise RuntimeError(f"{job}: no restart seen")


def run_and_wait(engine, job, options=None, targets=None, timeout=60):
    run = engine.start_job(job, options or {}, targets=targets)
    engine.wait(run.id, timeout)
    return run


def main() -> int:
    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        if shutil.which("xvfb-run"):
            return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, *sys.argv])
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    tmp = Path(tempfile.mkdtemp(prefix="labdeck-shots-"))
    os.environ["XDG_DATA_HOME"] = str(tmp / "xdg")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    os.environ["LABDECK_ALLOW_INSECURE_KEYRING"] = "1"  # a throw-away catalog and test users, as in the tests

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from labdeck.engine.engine import Engine
    from labdeck.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setFont(QFont("DejaVu Sans", 9))
    engine = Engine(tmp / "data")
    cluster = populate(engine, tmp / "sshd")
    try:
        run_and_wait(engine, "hello")
        run_and_wait(engine, "generate-training-data")
        run_and_wait(engine, "disk-report", targets="all,!win-lab-04")
        run_and_wait(engine, "collect-results")          # win-lab-04 is unreachable: fails
        eval_run = run_and_wait(engine, "nightly-eval")  # gpu-02 exits 2
        for hold in ("2", "4", "3"):                     # a trend for the jobs page
            run_and_wait(engine, "generate-training-data", {"hold": hold})
        run_and_wait(engine, "staggered")
        timeline_run = run_chain_and_wait(engine, "long-shard")   # a restart, and a retry on gpu-02
        probe_history(engine, ["gpu-01", "gpu-02", "win-lab-03", "this-computer"])
        DOCS.mkdir(exist_ok=True)
        add_schedules(engine)
        window = MainWindow(engine, use_tray=False)
        window.start_scheduling()     # as the app does; records the two missed fires of disk-report
        window.resize(1360, 820)
        window.show()

        def pump(seconds: float) -> None:
            end = time.time() + seconds
            while time.time() < end:
                app.processEvents()
                time.sleep(0.02)

        def shot(widget, name) -> None:
            pump(0.6)
            path = DOCS / name   # a Path given whole stays as it is
            widget.grab().save(str(path))
            print("saved", path)

        pump(0.5)
        only = set(sys.argv[1:])
        if only:
            if "import_dialog.png" in only:
                import_dialog_shot(window, pump, cluster, tmp)
            if "projects.png" in only:
                projects_shots(window, pump, shot)
            if "job_refs.png" in only:
                job_refs_shot(engine, window, pump, shot)
            if "run_timeline.png" in only:
                window.open_run(timeline_run.id)
                window.run_view.tabs.setCurrentWidget(window.run_view.timeline)
                window.run_view.select_node("gpu-01")
                shot(window, "run_timeline.png")
                sizes_shots(window, pump, shot, timeline_run.id)
            if "dark" in only:
                dark_shots(engine, window, pump, shot, timeline_run.id, eval_run.id)
            return 0
        window.show_page(0)
        window.refresh_all()
        window.nodes_page.select_names(["gpu-01"])
        shot(window, "nodes.png")
        window.show_page(1)
        window.jobs_page.select_job("generate-training-data")
        shot(window, "jobs.png")
        dialog = window.jobs_page.edit_job()
        dialog.resize(900, 680)
        shot(dialog, "job_editor.png")
        dialog.reject()

        live = engine.start_job("generate-training-data", {"hold": "25"}, targets="tag:gpu,tag:windows-lab")
        window.open_run(live.id)
        pump(3)
        window.run_view.select_node("gpu-01")
        shot(window, "run.png")
        engine.cancel(live.id)
        engine.wait(live.id, 30)

        window.open_run(timeline_run.id)
        window.run_view.tabs.setCurrentWidget(window.run_view.timeline)
        window.run_view.select_node("gpu-01")
        shot(window, "run_timeline.png")
        window.run_view.tabs.setCurrentIndex(0)
        engine.wait(live.id, 30)

        window.show_page(3)
        shot(window, "runs.png")

        show_first_error(window, pump, eval_run.id)
        shot(window, "log.png")

        from datetime import datetime
        window.show_page(window.stack.indexOf(window.schedules_page))
        page = window.schedules_page
        pump(0.8)
        page.refresh()
        page.select_schedule(engine.scheduler.store.list("nightly-eval")[0].id)
        editor = page.edit_schedule()
        editor.set_reference_time(datetime(2027, 3, 26, 12, 0, tzinfo=UTC))  # before a DST change
        editor.resize(760, 520)
        pump(0.8)
        composite(window, editor, DOCS / "schedules.png")
        editor.reject()

        transfers_shot(window, pump, shot, tmp)
        node_dialog_shot(window, pump)
        queue_shot(engine, window, pump, shot)
        import_dialog_shot(window, pump, cluster, tmp)
        projects_shots(window, pump, shot)
        job_refs_shot(engine, window, pump, shot)
        sizes_shots(window, pump, shot, timeline_run.id)
        dark_shots(engine, window, pump, shot, timeline_run.id, eval_run.id)
        window._quitting = True
        window.close()
        QTimer.singleShot(0, app.quit)
    finally:
        engine.close()
        cluster.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
