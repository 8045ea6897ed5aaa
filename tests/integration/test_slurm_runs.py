"""Jobs on a REAL single-host Slurm cluster (tests/support/slurm.py: munged, slurmctld, slurmd)
reached through a real test sshd as its login node: batch jobs, queue states, Slurm's end
states (its time limit: test_slurm_time_limit.py), cancel, re-attach after the controller was
killed, and sbatch's own error messages.
The machine has few cores shared with other work: every job here lasts seconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from labdeck.core.job_plan import Plan, Resources
from labdeck.core.models import Job, JobOption, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from labdeck.engine.engine import Engine
from labdeck.store.run_queue import task_runs
from tests.support.runs import run_job
from tests.support.slurm import GPUS, PARTITION, add_cluster, node_runs_of, slurm_job_of
from tests.support.waiting import wait_for


def test_node_test_shows_the_partitions_free_cpus_gpus_and_the_slurm_version(engine, slurm, login):
    add_cluster(engine, login, partition=PARTITION)
    check = engine.test_node("hpc")
    version = slurm.run("sinfo", "--version").stdout.split()[-1]
    lines = {c.name: c for c in check.checks}
    assert lines["Slurm"].value == version and lines["Slurm"].ok
    free = f"1 node, {slurm.cpus}/{slurm.cpus} CPUs free, {GPUS}/{GPUS} GPUs free"
    assert lines[f"partition {PARTITION}"].value == free
    node = engine.catalog.get_node("hpc")
    assert node.probe["cpus"] == slurm.cpus and node.probe["gpus"] == GPUS and node.probe["slurm_version"] == version


def test_a_partition_the_cluster_does_not_have_is_flagged_by_node_test(engine, login, slurm):
    add_cluster(engine, login, partition="gpu-big", check=False)
    check = engine.test_node("hpc")
    bad = [c for c in check.checks if not c.ok]
    assert [c.advice for c in bad] == [f"the cluster has no partition 'gpu-big' (it has {PARTITION})"]


def test_two_steps_run_as_one_batch_job_with_options_and_resources(engine, slurm, login):
    add_cluster(engine, login)
    job = Job(name="two", targets="hpc", steps=[
        Step(command='echo "one in job $SLURM_JOB_ID for $LABDECK_NODE:" ${option.greeting}'),
        Step(kind=StepKind.SCRIPT, filename="two.sh",
             script='echo "two: cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE gpus=$CUDA_VISIBLE_DEVICES"\n'
                    'echo "greeting=$LABDECK_OPTION_GREETING" >&2\n'),
    ], plan=Plan(resources=Resources(cpus=2, memory_mb=300, gpus=1)))
    job.options = [JobOption("greeting", "it's a \"quoted\" $HOME; rm -rf /")]
    run, node_runs = run_job(engine, job, timeout=90)
    (nr,) = node_runs_of(engine, run.id)
    assert run.status is RunStatus.SUCCEEDED, nr.message
    text = Path(nr.log_path).read_text()
    slurm_id = slurm_job_of(engine, nr.id)
    assert f"one in job {slurm_id} for hpc: it's a \"quoted\" $HOME; rm -rf /\n" in text
    assert "two: cpus=2 mem=300 gpus=0\n" in text
    assert "greeting=it's a \"quoted\" $HOME; rm -rf /\n" in text
    assert f"Slurm job {slurm_id}" in text
    assert slurm.squeue()[slurm_id] == "COMPLETED"




def test_a_failing_step_fails_the_node_run_with_its_exit_code(engine, slurm, login):
    add_cluster(engine, login)
    job = Job(name="fails", targets="hpc", steps=[
        Step(command="echo first"), Step(command="echo oops >&2; exit 3"), Step(command="echo never")])
    run, node_runs = run_job(engine, job, timeout=60)
    nr = node_runs["hpc"]
    assert run.status is RunStatus.FAILED
    assert (nr.status, nr.exit_code, nr.message) == (NodeRunStatus.FAILED, 3, "step 2 exited with code 3")
    text = Path(nr.log_path).read_text()
    assert "first\n" in text and "oops\n" in text and "never" not in text
    assert slurm.squeue()[slurm_job_of(engine, nr.id)] == "FAILED"


def test_sbatch_rejections_are_shown_with_slurms_own_message(engine, slurm, login):
    add_cluster(engine, login, name="wrongpart", partition="nope", check=False)
    add_cluster(engine, login, name="toomany")
    run, node_runs = run_job(engine, Job(name="bad-partition", targets="wrongpart", steps=[Step(command="true")]))
    nr = node_runs["wrongpart"]
    assert nr.status is NodeRunStatus.ERROR
    assert nr.message == ("node 'wrongpart': sbatch refused the job: sbatch: error: invalid partition specified: nope "
                          "sbatch: error: Batch job submission failed: Invalid partition name specified")
    job = Job(name="greedy", targets="toomany", steps=[Step(command="true")],
              plan=Plan(resources=Resources(gpus=GPUS + 3)))
    engine.catalog.add_job(job)
    engine.catalog.update_node(_with_capacity(engine.catalog.get_node("toomany"),
                                              gpus=GPUS + 3))  # LabDeck lets it through
    run, _ = run_job(engine, job)
    (nr,) = node_runs_of(engine, run.id)
    assert nr.status is NodeRunStatus.ERROR
    assert nr.message.endswith("sbatch refused the job: sbatch: error: Batch job submission failed: "
                               "Requested node configuration is not available")


def _with_capacity(node, **values):
    for key, value in values.items():
        setattr(node.capacity, key, value)
    return node


def test_cancel_a_pending_and_a_running_job(engine, slurm, login):
    add_cluster(engine, login)
    blocker = Job(name="blocker", targets="hpc", steps=[Step(command="echo holding; sleep 60")],
                  plan=Plan(resources=Resources(cpus=slurm.cpus)))
    waiting = Job(name="waiting", targets="hpc", steps=[Step(command="echo never ran")])
    engine.catalog.add_job(blocker)
    engine.catalog.add_job(waiting)
    first = engine.start_job("blocker")
    wait_for(lambda: any(s == "RUNNING" for s in slurm.squeue().values()), 30, "the blocker to run")
    second = engine.start_job("waiting")
    (queued,) = engine.catalog.node_runs(second.id)
    wait_for(lambda: "queued on hpc (Slurm: PENDING, Resources)" in engine.catalog.get_node_run(queued.id).message,
             30, "the queued message")
    queued_job = slurm_job_of(engine, queued.id)
    assert slurm.squeue()[queued_job] == "PENDING"
    engine.cancel(second.id)
    assert engine.wait(second.id, 30)
    queued = engine.catalog.get_node_run(queued.id)
    assert (queued.status, queued.kill_state) == (NodeRunStatus.CANCELLED, KillState.KILLED)
    assert slurm.squeue()[queued_job] == "CANCELLED"
    assert "never ran" not in Path(queued.log_path).read_text()
    (running,) = node_runs_of(engine, first.id)
    running_job = slurm_job_of(engine, running.id)
    wait_for(lambda: "holding" in Path(running.log_path).read_text(), 30, "the blocker's output")
    engine.cancel(first.id)
    assert engine.wait(first.id, 30)
    running = engine.catalog.get_node_run(running.id)
    assert (running.status, running.kill_state) == (NodeRunStatus.CANCELLED, KillState.KILLED)
    assert slurm.squeue()[running_job] == "CANCELLED"


@pytest.mark.slow
def test_a_new_labdeck_reattaches_after_the_controller_was_killed(data_dir, slurm, login):
    first = Engine(data_dir)
    add_cluster(first, login)
    command = 'i=1; while [ $i -le 8 ]; do echo "line $i"; i=$((i+1)); sleep 1; done; echo done >&2; exit 4'
    first.catalog.add_job(Job(name="count", targets="hpc", steps=[Step(command=command)]))
    run = first.start_job("count")
    (nr,) = first.catalog.node_runs(run.id)
    slurm_id = slurm_job_of(first, nr.id)
    wait_for(lambda: "line 2\n" in Path(nr.log_path).read_text(), 30, "the first lines")
    first.close()  # LabDeck quits; the batch job goes on
    slurm.save_state()
    slurm.kill_controller()
    time.sleep(2)
    slurm.start_controller()
    second = Engine(data_dir)
    try:
        assert second.catalog.get_node_run(nr.id).status is NodeRunStatus.RUNNING
        assert second.adopt_detached() == [run.id]
        assert second.wait(run.id, 60)
        nr = second.catalog.get_node_run(nr.id)
        assert (nr.status, nr.exit_code) == (NodeRunStatus.FAILED, 4), nr.message
        assert "re-attached" in nr.message
        text = Path(nr.log_path).read_text()
        for i in range(1, 9):
            assert text.count(f"line {i}\n") == 1, text
        assert text.count("done\n") == 1
        assert slurm.squeue()[slurm_id] == "FAILED"
    finally:
        second.close()


@pytest.mark.slow
def test_one_squeue_call_per_poll_whatever_the_number_of_jobs(engine, slurm, login):
    add_cluster(engine, login)
    for i in range(6):
        engine.catalog.add_job(Job(name=f"short{i}", targets="hpc", steps=[Step(command="sleep 3")],
                                   plan=Plan(resources=Resources(memory_mb=100))))
    queue = engine.pool.get(engine.catalog.get_node("hpc")).queue
    before, started = queue.squeue_calls, time.monotonic()
    runs = [engine.start_job(f"short{i}") for i in range(6)]
    for run in runs:
        assert engine.wait(run.id, 90)
    elapsed = time.monotonic() - started
    ended = {r.id: (engine.catalog.get_run(r.id), engine.catalog.node_runs(r.id)) for r in runs}
    assert all(run.status is RunStatus.SUCCEEDED for run, _ in ended.values()), \
        [(run.status, run.note, [(nr.status, nr.message) for nr in nrs]) for run, nrs in ended.values()]
    # six jobs polled every 0.5-5 s each would be dozens of calls; shared, at most one a second
    assert queue.squeue_calls - before <= elapsed / 1.0 + 2


def test_node_add_and_test_from_the_command_line(data_dir, slurm, login):
    import subprocess
    import sys

    from tests.support.cli import CLI_ENV

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), *args],
                              capture_output=True, text=True, timeout=60, env=CLI_ENV)

    refused = cli("node", "add", "pc1", "--host", "h", "--user", "u", "--partition", PARTITION)
    assert refused.returncode != 0
    assert "--partition, --account and --sbatch-arg are for --transport slurm" in refused.stderr
    refused = cli("node", "add", "hpc", "--transport", "slurm", "--host", login.host, "--user", login.user,
                  "--sbatch-arg=--array=1-2")
    assert refused.returncode != 0 and "LabDeck sets --array itself" in refused.stderr
    added = cli("node", "add", "hpc", "--transport", "slurm", "--host", login.host, "--port", str(login.port),
                "--user", login.user, "--key-file", str(login.key_file), "--accept-host-key",
                "--partition", PARTITION, "--sbatch-arg=--nice=10")
    assert added.returncode == 0, added.stderr
    tested = cli("node", "test", "hpc")
    assert tested.returncode == 0, tested.stderr
    version = slurm.run("sinfo", "--version").stdout.split()[-1]
    assert f"node 'hpc' is a Slurm {version} cluster" in tested.stdout
    assert f"ok   partition {PARTITION}: 1 node, {slurm.cpus}/{slurm.cpus} CPUs free, {GPUS}/{GPUS} GPUs free" \
        in tested.stdout


@pytest.mark.slow
def test_an_array_of_twenty_is_one_sbatch_and_never_runs_more_than_the_cpus(engine, slurm, login, tmp_path):
    from labdeck.core.job_plan import ArraySpec
    add_cluster(engine, login)
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    items = [f"item {i}: it's $x" for i in range(20)]
    job = Job(name="arr", targets="hpc", steps=[Step(command=(
        f'date +%s.%N > {stamps}/$LABDECK_ARRAY_INDEX.start; echo "got" ${{array.item}} "at ${{array.index}}"; '
        f'sleep 1; date +%s.%N > {stamps}/$LABDECK_ARRAY_INDEX.end'))],
        plan=Plan(array=ArraySpec(items=items, slots_per_node=20), resources=Resources(cpus=1)))
    engine.catalog.add_job(job)
    before = set(slurm.squeue())
    run = engine.start_job("arr")
    assert engine.wait(run.id, 120)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    submitted = {key.split("_")[0] for key in set(slurm.squeue()) - before}
    assert len(submitted) == 1, submitted  # one array job for the twenty items
    (array_job,) = submitted
    assert {k for k in slurm.squeue() if k.startswith(array_job + "_")} == {f"{array_job}_{i}" for i in range(20)}
    for child, fields in task_runs(engine.catalog, run.id):
        index = int(child.task)
        text = Path(fields["log_path"]).read_text()
        assert f"got item {index}: it's $x at {index}\n" in text, text
        assert f"Slurm job {array_job}_{index}" in text
    spans = [(float((stamps / f"{i}.start").read_text()), float((stamps / f"{i}.end").read_text())) for i in range(20)]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most <= slurm.cpus


def test_a_failing_array_task_fails_only_its_item(engine, slurm, login):
    from labdeck.core.job_plan import ArraySpec
    add_cluster(engine, login)
    job = Job(name="arrfail", targets="hpc", steps=[Step(command='[ "$LABDECK_ARRAY_INDEX" != 2 ] || exit 7')],
              plan=Plan(array=ArraySpec(count=4, slots_per_node=4)))
    engine.catalog.add_job(job)
    run = engine.start_job("arrfail")
    assert engine.wait(run.id, 90)
    run = engine.catalog.get_run(run.id)
    assert run.status is RunStatus.FAILED and run.note == "3 / 4 done, 1 failed"
    failed = [(c.task, f["status"], f["exit_code"]) for c, f in task_runs(engine.catalog,
                                                                          run.id) if f["status"] != "succeeded"]
    assert failed == [("2", "failed", 7)]


def test_put_before_and_get_after_the_batch_job_go_through_the_login_node(engine, slurm, login, tmp_path):
    import shutil
    import uuid
    add_cluster(engine, login)
    (tmp_path / "in.txt").write_text("cluster input\n")
    remote = f"labdeck-slurm-{uuid.uuid4().hex[:8]}"  # in the login node's home, shared with the compute node
    job = Job(name="io", targets="hpc", steps=[
        Step(kind=StepKind.PUT, source=str(tmp_path / "in.txt"), destination=remote),
        Step(command=f'tr a-z A-Z < {remote}/in.txt > {remote}/out.txt; echo "on $SLURM_JOB_NODELIST"'),
        Step(kind=StepKind.GET, source=f"{remote}/out.txt", destination=str(tmp_path / "results"))])
    try:
        run, node_runs = run_job(engine, job, timeout=60)
        assert run.status is RunStatus.SUCCEEDED, node_runs["hpc"].message
        assert (tmp_path / "results" / "hpc" / "out.txt").read_text() == "CLUSTER INPUT\n"
        assert "on n1\n" in Path(node_runs["hpc"].log_path).read_text()
    finally:
        shutil.rmtree(Path.home() / remote, ignore_errors=True)


def test_cancelling_an_array_run_cancels_the_whole_array(engine, slurm, login):
    from labdeck.core.job_plan import ArraySpec
    add_cluster(engine, login)
    engine.catalog.add_job(Job(name="arrcancel", targets="hpc", steps=[Step(command="echo up; sleep 60")],
                               plan=Plan(array=ArraySpec(count=6, slots_per_node=1))))
    before = set(slurm.squeue())
    run = engine.start_job("arrcancel")
    wait_for(lambda: "RUNNING" in {s for k, s in slurm.squeue().items() if k not in before}, 30, "a running task")
    engine.cancel(run.id)
    assert engine.wait(run.id, 60)
    assert engine.catalog.get_run(run.id).status is RunStatus.CANCELLED
    mine = {k: s for k, s in slurm.squeue().items() if k not in before}
    assert len(mine) == 6 and set(mine.values()) == {"CANCELLED"}, mine
    statuses = {f["status"] for _c, f in task_runs(engine.catalog, run.id)}
    assert statuses == {"cancelled"}


def test_a_cancel_that_arrives_while_the_array_is_being_submitted_cancels_it(engine, slurm, login, monkeypatch):
    """The user cancels while sbatch is still out (a busy controller answers slowly): the array
    it submits is cancelled too, every task of it, and the run ends at once rather than after
    its six one-minute tasks ran one after another."""
    import threading

    from labdeck.core.job_plan import ArraySpec
    from labdeck.engine.arrays import ArrayRun

    add_cluster(engine, login)
    engine.catalog.add_job(Job(name="slowsubmit", targets="hpc", steps=[Step(command="echo up; sleep 60")],
                               plan=Plan(array=ArraySpec(count=6, slots_per_node=1))))
    submitting, go_on = threading.Event(), threading.Event()
    real_submit = ArrayRun._submit

    def slow_submit(self, node):   # the real sbatch, once the test has cancelled
        submitting.set()
        go_on.wait(30)
        return real_submit(self, node)
    monkeypatch.setattr(ArrayRun, "_submit", slow_submit)
    before = set(slurm.squeue())
    run = engine.start_job("slowsubmit")
    assert submitting.wait(30)
    threading.Timer(1.0, go_on.set).start()
    engine.cancel(run.id)          # waits for the submit in progress, then cancels what it made
    assert engine.wait(run.id, 30)
    assert engine.catalog.get_run(run.id).status is RunStatus.CANCELLED
    wait_for(lambda: set((mine := {k: s for k, s in slurm.squeue().items() if k not in before}).values())
             <= {"CANCELLED"} and len(mine) == 6, 30, "every task of the array cancelled in Slurm")
    assert {f["status"] for _c, f in task_runs(engine.catalog, run.id)} <= {"cancelled"}


@pytest.mark.slow
def test_the_marker_file_gives_the_exit_code_when_squeue_and_sacct_no_longer_know_the_job(data_dir, slurm, login):
    """squeue forgets a finished job after MinJobAge and this cluster has no accounting (sacct
    does not answer), as on many clusters: a LabDeck that comes back later reads the marker."""
    first = Engine(data_dir)
    add_cluster(first, login)
    first.catalog.add_job(Job(name="later", targets="hpc",
                              steps=[Step(command="echo ran"), Step(command="echo bye >&2; exit 5")]))
    run = first.start_job("later")
    (nr,) = first.catalog.node_runs(run.id)
    slurm_id = slurm_job_of(first, nr.id)
    first.close()
    wait_for(lambda: slurm.squeue().get(slurm_id) == "FAILED", 30, "the job to end")
    with slurm.min_job_age(2):
        wait_for(lambda: slurm_id not in slurm.squeue(), 60, "squeue to forget the job")
        assert slurm.run("sacct", "-j", slurm_id, check=False).returncode != 0  # no accounting here
        second = Engine(data_dir)
        try:
            assert second.adopt_detached() == [run.id]
            assert second.wait(run.id, 30)
            nr = second.catalog.get_node_run(nr.id)
            assert (nr.status, nr.exit_code) == (NodeRunStatus.FAILED, 5)
            assert nr.message.startswith("step 2 exited with code 5")
            text = Path(nr.log_path).read_text()
            assert text.count("ran\n") == 1 and text.count("bye\n") == 1
        finally:
            second.close()
