"""500 schedules due in the same second: how long until every one has started its run.

LabDeck: 500 jobs on this computer, each with a one-off schedule at the same instant (overlap
"parallel"), in a real engine with its scheduler; the figure is the latest run's start minus
the fire time (target: <= 2 s). Reference, measured in the same run: bare APScheduler firing
500 no-op jobs at one instant (latest callback minus the fire time). Prints both and the ratio.

    /tmp/venv/bin/python bench/bench_schedules.py [--schedules 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402

from labdeck.core.models import Job, JobPolicy, Step  # noqa: E402
from labdeck.core.schedules import Schedule, ScheduleKind  # noqa: E402
from labdeck.engine.engine import Engine  # noqa: E402

LEAD_S = 4.0


def reference(n: int) -> float:
    fired: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def callback():
        with lock:
            fired.append(time.time())
            if len(fired) == n:
                done.set()

    aps = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "misfire_grace_time": None})
    at = time.time() + 1.0
    for i in range(n):
        aps.add_job(callback, "date", run_date=datetime.fromtimestamp(at, UTC), id=str(i))
    aps.start()
    done.wait(30)
    aps.shutdown()
    return max(fired) - at


def labdeck(n: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(tmp)
        try:
            for i in range(n):
                engine.catalog.add_job(Job(name=f"job{i:03d}", targets="this-computer", steps=[Step(command="true")],
                                           policy=JobPolicy(overlap="parallel", notify_on=[])))
            engine.start_scheduler()
            at = time.time() + LEAD_S
            stamp = datetime.fromtimestamp(at, UTC).isoformat()
            for i in range(n):
                engine.scheduler.store.add(Schedule(f"job{i:03d}", ScheduleKind.DATE, stamp))
            engine.scheduler.sync()
            assert time.time() < at, "adding the schedules took longer than the lead time"
            deadline = time.time() + 60
            while time.time() < deadline:
                runs = engine.catalog.list_runs(limit=n + 10)
                if len([r for r in runs if r.scheduled_for]) >= n:
                    break
                time.sleep(0.1)
            runs = [r for r in engine.catalog.list_runs(limit=n + 10) if r.scheduled_for]
            lags = sorted(r.started_at - at for r in runs)
            missed = sum(r.status == "missed" for r in runs)
            for run in runs:
                engine.wait(run.id, 60)
            return lags[-1], lags[len(lags) // 2], missed
        finally:
            engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=500)
    n = parser.parse_args().schedules
    ref = reference(n)
    worst, median, missed = labdeck(n)
    print(f"{n} schedules due in the same second")
    print(f"  reference (bare APScheduler, no-op jobs): all fired within {ref:.3f} s")
    print(f"  LabDeck (run recorded and dispatched):    all started within {worst:.3f} s "
          f"(median {median:.3f} s, missed {missed}); target <= 2 s: {'OK' if worst <= 2 and not missed else 'MISSED'}")
    print(f"  ratio LabDeck / reference: {worst / max(ref, 1e-6):.1f}x")
    return 0 if worst <= 2 and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
