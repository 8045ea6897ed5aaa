"""Arrays, resource placement and the priority queue on real OpenSSH nodes: slot limits seen
from the nodes themselves, a failed item retried, GPU requests that wait for room, and a
later high-priority run overtaking an earlier low-priority one, big requests kept from
starving, cancelling, and re-running only the failed items."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.events import PlanProgress
from labdeck.core.models import Capacity
from labdeck.core.status import NodeRunStatus, RunStatus
from labdeck.engine.engine import Engine
from labdeck.store import run_queue
from labdeck.store.jobfile import job_from_yaml
from tests.conftest import add_sshd_node
from tests.support.runs import add_job, set_capacity
from tests.support.waiting import wait_for


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def task_record(engine, run_id: int) -> dict[str, dict]:
    return {r.task: nr for r, nr in run_queue.task_runs(engine.catalog, run_id)}


def test_array_of_100_over_5_nodes_keeps_2_per_node_and_retries_a_failed_item(engine, sshd_nodes, tmp_path):
    for sshd in sshd_nodes(5):
        add_sshd_node(engine, sshd, tags=["lab"])
    journal, marker = tmp_path / "journal", tmp_path / "failed-once"
    add_job(engine, f"""
name: shards
targets: tag:lab
array: 100
slots_per_node: 2
policy: {{retries: 1}}
steps:
  - command: |
      echo "$LABDECK_NODE $LABDECK_ARRAY_INDEX start $(date +%s.%N)" >> {journal}
      sleep 0.05
      echo "$LABDECK_NODE $LABDECK_ARRAY_INDEX end $(date +%s.%N)" >> {journal}
      if [ "$LABDECK_ITEM" = 17 ] && [ ! -e {marker} ]; then touch {marker}; exit 1; fi
      echo "item ${{array.item}} done"
""")
    events: list[PlanProgress] = []
    engine.bus.subscribe(lambda e: events.append(e) if isinstance(e, PlanProgress) else None)
    run = engine.start_job("shards")
    assert engine.wait(run.id, 120)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED

    spans: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in journal.read_text().splitlines():
        node, index, _, stamp = line.split()
        spans[(node, index)].append(float(stamp))
    per_node: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (node, _), stamps in spans.items():
        stamps.sort()
        for start, end in zip(stamps[::2], stamps[1::2], strict=True):  # item 17 ran twice
            per_node[node].append((start, end))
    assert len({index for _, index in spans}) == 100
    assert len(per_node) == 5  # spread over every node
    assert all(max_overlap(intervals) <= 2 for intervals in per_node.values())

    tasks = task_record(engine, run.id)
    assert len(tasks) == 100 and all(nr["status"] == NodeRunStatus.SUCCEEDED for nr in tasks.values())
    assert tasks["17"]["attempt"] == 2 and tasks["16"]["attempt"] == 1
    assert marker.exists()
    progress = run_queue.progress(engine.catalog, run.id)
    assert run_queue.describe_progress(progress) == "100 / 100 done"
    assert (events[-1].done, events[-1].failed, events[-1].total) == (100, 0, 100)


def test_array_over_a_file_gives_each_task_its_item_and_reports_failures(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    items = tmp_path / "items.txt"
    items.write_text("alpha\nbeta; rm -rf /\n\ngamma\n")
    (tmp_path / "job.yaml").write_text(f"""
name: words
targets: tag:lab
over_file: {items.name}
slots_per_node: 3
steps:
  - command: echo "got" ${{array.item}} "as $LABDECK_ITEM"; [ "$LABDECK_ITEM" != gamma ]
""")
    job = job_from_yaml((tmp_path / "job.yaml").read_text(), base_dir=str(tmp_path))
    engine.catalog.add_job(job)
    run = engine.start_job("words")
    assert engine.wait(run.id, 60)
    finished = engine.catalog.get_run(run.id)
    assert finished.status is RunStatus.FAILED and finished.note == "2 / 3 done, 1 failed"
    tasks = task_record(engine, run.id)
    assert "got beta; rm -rf / as beta; rm -rf /" in Path(tasks["1"]["log_path"]).read_text()
    assert tasks["2"]["status"] == NodeRunStatus.FAILED


def test_gpu_job_runs_only_where_2_gpus_are_free_and_waits_for_them(engine, sshd_nodes, tmp_path):
    small, big = sshd_nodes(2)
    add_sshd_node(engine, small, name="gpu-small", tags=["gpu"])
    add_sshd_node(engine, big, name="gpu-big", tags=["gpu"])
    set_capacity(engine, "gpu-small", gpus=1)
    set_capacity(engine, "gpu-big", gpus=2)
    release = tmp_path / "release"
    add_job(engine, f"""
name: train
targets: tag:gpu
placement: any
resources: {{gpus: 2}}
options: [{{name: hold, default: "no"}}]
steps:
  - command: if [ ${{option.hold}} = yes ]; then while [ ! -e {release} ]; do sleep 0.05; done; fi; echo trained
""")
    first = engine.start_job("train", {"hold": "yes"})
    wait_for(lambda: engine.catalog.get_run(first.id).status is RunStatus.RUNNING, what="first run to start")
    second = engine.start_job("train")
    reason = wait_for(lambda: next((e["reason"] for e in run_queue.entries(engine.catalog)
                                    if e["run_id"] == second.id and e["reason"]), None), what="a reason")
    assert "needs 2 GPUs; none free" in reason
    time.sleep(0.5)
    assert engine.catalog.get_run(second.id).status is RunStatus.QUEUED  # still waiting: no room
    release.touch()
    assert engine.wait(first.id, 30) and engine.wait(second.id, 30)
    (a,) = task_record(engine, first.id).values()
    (b,) = task_record(engine, second.id).values()
    assert a["node_name"] == b["node_name"] == "gpu-big"
    assert b["started_at"] >= a["finished_at"]
    assert engine.catalog.get_run(second.id).status is RunStatus.SUCCEEDED

    add_job(engine, "name: huge\ntargets: tag:gpu\nplacement: any\nresources: {gpus: 3}\nsteps: [echo never]\n")
    huge = engine.start_job("huge")
    assert engine.wait(huge.id, 10)
    finished = engine.catalog.get_run(huge.id)
    assert finished.status is RunStatus.FAILED
    assert "needs 3 GPUs; no target node has that (gpu-big has 2 GPUs; gpu-small has 1 GPU)" in finished.note
    assert task_record(engine, huge.id) == {}  # nothing was started anywhere


def test_a_later_higher_priority_run_starts_before_an_earlier_lower_one(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node, name="one-slot", tags=["q"])
    set_capacity(engine, "one-slot", cpus=1)
    release = tmp_path / "release"
    journal = tmp_path / "journal"
    for name, priority in (("blocker", 0), ("low", 0), ("high", 5)):
        wait = f"while [ ! -e {release} ]; do sleep 0.05; done; " if name == "blocker" else ""
        add_job(engine, f"name: {name}\ntargets: tag:q\npriority: {priority}\nresources: {{cpus: 1}}\n"
                        f"steps: ['{wait}echo {name} >> {journal}']\n")
    blocker = engine.start_job("blocker")
    wait_for(lambda: engine.catalog.get_run(blocker.id).status is RunStatus.RUNNING, what="the blocker")
    low = engine.start_job("low")
    high = engine.start_job("high")
    line = wait_for(lambda: [(e["run_id"], e["position"]) for e in run_queue.entries(engine.catalog)],
                    what="queue entries")
    assert [run_id for run_id, _ in line] == [high.id, blocker.id, low.id]
    release.touch()
    for run in (blocker, low, high):
        assert engine.wait(run.id, 30)
    assert journal.read_text().split() == ["blocker", "high", "low"]


def test_queue_order_can_be_changed_and_survives_a_restart(data_dir, sshd_node, tmp_path):
    release = tmp_path / "release"
    journal = tmp_path / "journal"
    with Engine(data_dir) as engine:
        add_sshd_node(engine, sshd_node, name="one-slot", tags=["q"])
        set_capacity(engine, "one-slot", cpus=1)
        for name in ("blocker", "first", "second"):
            wait = f"while [ ! -e {release} ]; do sleep 0.05; done; " if name == "blocker" else ""
            add_job(engine, f"name: {name}\ntargets: tag:q\nresources: {{cpus: 1}}\n"
                            f"steps: ['{wait}echo {name} >> {journal}']\n")
        blocker = engine.start_job("blocker")
        wait_for(lambda: engine.catalog.get_run(blocker.id).status is RunStatus.RUNNING, what="the blocker")
        first = engine.start_job("first")
        second = engine.start_job("second")
        run_queue.move(engine.catalog, second.id, "up")
        # closing interrupts what runs (its attached task is stopped); runs that never started stay queued
    with Engine(data_dir) as engine:
        blocked = engine.catalog.get_run(blocker.id)
        assert blocked.status is RunStatus.INTERRUPTED and f"labdeck rerun {blocker.id}" in blocked.note
        assert [t["status"] for t in task_record(engine, blocker.id).values()] == [NodeRunStatus.CANCELLED]
        assert [e["run_id"] for e in run_queue.entries(engine.catalog)] == [second.id, first.id]
        assert engine.catalog.get_run(first.id).status is RunStatus.QUEUED
        engine.start_scheduler()
        for run in (first, second):
            assert engine.wait(run.id, 30)
            assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    assert journal.read_text().split() == ["second", "first"]


def test_cancelling_an_array_stops_its_running_items_and_starts_no_more(engine, sshd_node):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    add_job(engine, "name: slow\ntargets: tag:lab\narray: 30\nslots_per_node: 2\nsteps: ['sleep 3']\n")
    run = engine.start_job("slow")
    # the cancel lands while items run (3 s each), not in the gap between two items
    wait_for(lambda: (p := run_queue.progress(engine.catalog, run.id))["done"] >= 2 and p["running"] >= 1,
             what="two items done and the next running")
    engine.cancel(run.id)
    assert engine.wait(run.id, 20)
    finished = engine.catalog.get_run(run.id)
    assert finished.status is RunStatus.CANCELLED and finished.note.startswith("cancelled; ")
    tasks = task_record(engine, run.id)
    assert 2 <= len(tasks) < 30
    assert not [t for t in tasks.values() if t["status"] in ("running", "pending")]
    assert any(t["status"] == NodeRunStatus.CANCELLED for t in tasks.values())


def test_a_queued_run_left_by_a_closed_engine_can_be_cancelled(data_dir, sshd_node, tmp_path):
    release = tmp_path / "release"
    with Engine(data_dir) as engine:
        add_sshd_node(engine, sshd_node, name="one-slot", tags=["q"])
        set_capacity(engine, "one-slot", cpus=1)
        add_job(engine, f"name: hold\ntargets: tag:q\nresources: {{cpus: 1}}\n"
                        f"steps: ['while [ ! -e {release} ]; do sleep 0.05; done']\n")
        hold = engine.start_job("hold")
        wait_for(lambda: engine.catalog.get_run(hold.id).status is RunStatus.RUNNING, what="the holder")
        waiting = engine.start_job("hold")
    with Engine(data_dir) as engine:
        assert engine.catalog.get_run(waiting.id).status is RunStatus.QUEUED
        engine.cancel(waiting.id)
        assert engine.catalog.get_run(waiting.id).status is RunStatus.CANCELLED
        assert run_queue.entries(engine.catalog) == []


def test_editing_a_node_without_capacity_fields_keeps_the_capacity_set_by_hand(engine, sshd_node):
    node = add_sshd_node(engine, sshd_node, name="keeps", tags=["a"])
    set_capacity(engine, "keeps", gpus=2, cpus=8)
    node.tags = ["a", "b"]  # what the node editor saves: no capacity of its own
    engine.nodes.update(node, None, sshd_node.host_key_fingerprint)
    after = engine.catalog.get_node("keeps")
    assert after.tags == ["a", "b"] and after.capacity == Capacity(cpus=8, gpus=2)


def test_a_waiting_big_request_is_not_starved_by_smaller_later_ones(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node, name="two-gpus", tags=["g"])
    set_capacity(engine, "two-gpus", gpus=2)
    journal = tmp_path / "journal"
    gates = {name: tmp_path / f"open-{name}" for name in ("hog1", "hog2")}
    for name, gpus, priority in (("hog1", 1, 0), ("hog2", 1, 0), ("big", 2, 5), ("small", 1, 0)):
        wait = f"while [ ! -e {gates[name]} ]; do sleep 0.05; done; " if name in gates else ""
        add_job(engine, f"name: {name}\ntargets: tag:g\nplacement: any\npriority: {priority}\n"
                        f"resources: {{gpus: {gpus}}}\nsteps: ['{wait}echo {name} >> {journal}']\n")
    hogs = [engine.start_job("hog1"), engine.start_job("hog2")]
    for hog in hogs:
        wait_for(lambda hog=hog: engine.catalog.get_run(hog.id).status is RunStatus.RUNNING, what="the hogs")
    big, small = engine.start_job("big"), engine.start_job("small")
    gates["hog1"].touch()  # one GPU frees: enough for small, but big is ahead in the queue
    assert engine.wait(hogs[0].id, 30)
    reason = wait_for(lambda: next((e["reason"] for e in run_queue.entries(engine.catalog)
                                    if e["run_id"] == small.id and "kept for run" in e["reason"]), None),
                      what="small to wait behind big")
    assert reason == f"two-gpus is kept for run {big.id}, which is ahead in the queue"
    assert engine.catalog.get_run(small.id).status is RunStatus.QUEUED
    gates["hog2"].touch()
    for run in (hogs[1], big, small):
        assert engine.wait(run.id, 30)
    assert journal.read_text().split() == ["hog1", "hog2", "big", "small"]


def test_rerun_runs_only_the_failed_items_with_their_own_indexes(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node, tags=["lab"])
    marks = tmp_path / "marks"
    marks.mkdir()
    add_job(engine, f"""
name: flaky
targets: tag:lab
over: [a, b, c, d, e, f]
slots_per_node: 3
steps:
  - command: |
      echo "index $LABDECK_ARRAY_INDEX of $LABDECK_ARRAY_SIZE is $LABDECK_ITEM"
      case $LABDECK_ITEM in b|e) [ -e {marks}/$LABDECK_ITEM ] || {{ touch {marks}/$LABDECK_ITEM; exit 1; }};; esac
""")
    first = engine.start_job("flaky")
    assert engine.wait(first.id, 30)
    assert engine.catalog.get_run(first.id).note == "4 / 6 done, 2 failed"
    again = engine.rerun_failed(first.id)
    assert engine.wait(again.id, 30)
    finished = engine.catalog.get_run(again.id)
    assert finished.status is RunStatus.SUCCEEDED and finished.note == "2 / 2 done"
    tasks = task_record(engine, again.id)
    assert sorted(tasks) == ["1", "4"]
    assert "index 4 of 6 is e" in Path(tasks["4"]["log_path"]).read_text()
    with pytest.raises(InvalidInput, match=f"every item of run {again.id} succeeded"):
        engine.rerun_failed(again.id)


def test_closing_leaves_detached_items_running_and_the_next_engine_resumes_the_rest(data_dir, sshd_node, tmp_path):
    journal = tmp_path / "journal"
    with Engine(data_dir) as engine:
        add_sshd_node(engine, sshd_node, tags=["lab"])
        add_job(engine, f"name: long\ntargets: tag:lab\narray: 4\nslots_per_node: 2\npolicy: {{launch: detached}}\n"
                        f"steps: ['sleep 2; echo item $LABDECK_ITEM >> {journal}']\n")
        run = engine.start_job("long")
        wait_for(lambda: len([t for t in task_record(engine, run.id).values() if t["status"] == "running"]) == 2,
                 what="two items running")
    with Engine(data_dir) as engine:  # LabDeck closed: items 0 and 1 go on on the node, 2 and 3 never started
        assert engine.catalog.get_run(run.id).status is RunStatus.INTERRUPTED
        engine.take_over()  # re-attaches to the detached task runs and resumes the rest by itself
        wait_for(lambda: [t["status"] for t in task_record(engine, run.id).values()] == ["succeeded"] * 2,
                 timeout=30, what="the detached items to finish")
        resumed = [r for r in engine.catalog.list_runs("long", 10) if r.parent_run_id == run.id]
        assert len(resumed) == 1 and str(resumed[0].trigger) == "resume"
        assert engine.wait(resumed[0].id, 30)
        assert sorted(task_record(engine, resumed[0].id)) == ["2", "3"]
        assert engine.catalog.get_run(resumed[0].id).status is RunStatus.SUCCEEDED
        assert f"resumed as run {resumed[0].id}" in engine.catalog.get_run(run.id).note
        finished = engine.catalog.get_run(resumed[0].id)  # its history keeps why it ran, and how it ended
        assert finished.note.startswith(f"resumed by itself: run {run.id} was interrupted")
        assert finished.note.endswith("; 2 / 2 done")
    assert sorted(journal.read_text().split("\n")[:-1]) == [f"item {i}" for i in range(4)]
