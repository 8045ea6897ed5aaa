"""A Slurm array outlives the LabDeck that submitted it, on a REAL single-host Slurm cluster
(tests/support/slurm.py) behind a real test sshd: killed (SIGKILL, a real subprocess) or closed,
the next LabDeck re-attaches every task (statuses, logs from their offsets, exit codes) without
submitting anything again, ends the array run itself, and cancels it when asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from labdeck.core.job_plan import ArraySpec, Plan
from labdeck.core.models import Job, Step
from labdeck.core.status import RunStatus
from labdeck.engine.engine import Engine
from labdeck.store import engine_files, paths
from labdeck.store.catalog import Catalog
from labdeck.store.detached import DetachedStore
from labdeck.store.run_queue import task_runs
from tests.support.cli import CLI_ENV
from tests.support.slurm import add_cluster
from tests.support.waiting import wait_for


def test_an_array_reattaches_after_the_labdeck_process_was_killed(data_dir, slurm, login, tmp_path):
    """``labdeck run`` of a 4-item array (two at a time) in a real subprocess; its engine process
    is SIGKILLed with two tasks running and two queued; a new LabDeck re-attaches to every task:
    statuses, logs from their saved offsets (no line twice) and exit codes, with no second sbatch."""
    setup = Engine(data_dir)
    add_cluster(setup, login)
    lines, go = 6, tmp_path / "go"  # lines 4-6 wait for ``go``: written after the kill (a shared filesystem)
    command = (f'i=1; while [ $i -le {lines} ]; do [ $i -eq 4 ] && while [ ! -e {go} ]; do sleep 0.2; done; '
               'echo "item $LABDECK_ARRAY_INDEX line $i"; i=$((i+1)); sleep 0.2; done; '
               'echo "bye from $LABDECK_ARRAY_INDEX" >&2; exit $((LABDECK_ARRAY_INDEX % 2 * 3))')
    setup.catalog.add_job(Job(name="crash", targets="hpc", steps=[Step(command=command)],
                              plan=Plan(array=ArraySpec(count=4, slots_per_node=2))))
    setup.close()
    before = set(slurm.squeue())
    controller = subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "run", "crash"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp_path / "controller.err", "w"), env=CLI_ENV)
    watcher = Catalog(paths.catalog_path(data_dir))  # reads only: the engine process owns the catalog
    try:
        def tasks() -> list:
            assert controller.poll() is None, (tmp_path / "controller.err").read_text()
            runs = watcher.list_runs("crash")
            return task_runs(watcher, runs[-1].id) if runs else []

        def two_running_two_queued() -> bool:
            statuses = sorted(f["status"] for _task, f in tasks())
            started = [f for _task, f in tasks() if f["status"] == "running"]
            return statuses == ["queued", "queued", "running", "running"] and all(
                "line 3\n" in Path(f["log_path"]).read_text() for f in started)
        wait_for(two_running_two_queued, 60, "two tasks with output and two queued")
        parent = watcher.list_runs("crash")[-1].id
        os.kill(engine_files.read_address(data_dir).pid, signal.SIGKILL)
        controller.wait(20)
        wait_for(lambda: engine_files.try_lock(data_dir), 10, "the dead engine's lock to be free").release()
    finally:
        watcher.close()
        go.touch()
    successor = Engine(data_dir)
    try:
        successor.take_over()
        wait_for(lambda: all(f["status"] in ("succeeded", "failed") for _t, f in task_runs(successor.catalog, parent)),
                 90, "every task to end")
        ended = task_runs(successor.catalog, parent)
        assert sorted(task.task for task, _f in ended) == ["0", "1", "2", "3"]  # each item once
        for index, f in ((int(task.task), f) for task, f in ended):
            assert (f["status"], f["exit_code"]) == (("failed", 3) if index % 2 else ("succeeded", 0)), f
            text = Path(f["log_path"]).read_text()
            for i in range(1, lines + 1):
                assert text.count(f"item {index} line {i}\n") == 1, text
            assert text.count(f"bye from {index}\n") == 1, text
            assert "re-attached" in text
        submitted = {key.split("_")[0] for key in set(slurm.squeue()) - before}
        assert len(submitted) == 1, submitted  # the re-attach submitted nothing again
        (array_job,) = submitted
        assert {k: s for k, s in slurm.squeue().items() if k.startswith(array_job + "_")} == {
            f"{array_job}_{i}": ("FAILED" if i % 2 else "COMPLETED") for i in range(4)}
        assert successor.wait(parent, 30)
        ended = successor.catalog.get_run(parent)
        assert (ended.status, ended.note) == (RunStatus.FAILED,
                                              "2 / 4 done, 2 failed (its tasks re-attached after LabDeck stopped)")
        assert [r.id for r in successor.catalog.list_runs("crash", 50) if r.trigger == "resume"] == []
    finally:
        successor.close()


def test_an_array_left_running_by_a_closed_labdeck_is_followed_on_and_can_be_cancelled(data_dir, slurm, login):
    """Closing LabDeck leaves a Slurm array running (not "interrupted", which would submit its
    items again); the next LabDeck re-attaches its tasks, and cancelling the run cancels them."""
    first = Engine(data_dir)
    add_cluster(first, login)
    first.catalog.add_job(Job(name="left", targets="hpc", steps=[Step(command="echo up; sleep 60")],
                              plan=Plan(array=ArraySpec(count=3, slots_per_node=1))))
    before = set(slurm.squeue())
    run = first.start_job("left")
    wait_for(lambda: "RUNNING" in {s for k, s in slurm.squeue().items() if k not in before}, 30, "a running task")
    store = DetachedStore(first.catalog)
    wait_for(lambda: len(tasks := task_runs(first.catalog, run.id)) == 3
             and all(store.of_run(child.id) for child, _f in tasks), 30, "three detached task runs")
    first.close()
    second = Engine(data_dir)
    try:
        assert second.catalog.get_run(run.id).status is RunStatus.RUNNING
        second.take_over()
        assert second.catalog.get_run(run.id).status is RunStatus.RUNNING
        second.cancel(run.id)
        assert second.wait(run.id, 60)
        ended = second.catalog.get_run(run.id)
        assert ended.status is RunStatus.CANCELLED, ended.note
        assert ended.note.startswith("cancelled; 0 / 3 done, 3 failed")
        # each task is cancelled on its own: Slurm lists the pending ones it never split off as the array's id
        mine = {k: s for k, s in slurm.squeue().items() if k not in before}
        assert set(mine.values()) == {"CANCELLED"} and any(k.endswith("_0") for k in mine), mine
        assert {f["status"] for _c, f in task_runs(second.catalog, run.id)} == {"cancelled"}
        assert [r.id for r in second.catalog.list_runs("left", 50) if r.trigger == "resume"] == []
    finally:
        second.close()
