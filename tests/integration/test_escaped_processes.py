"""Processes that leave a step's process group (``setsid``, double forks) are found by the run
token in their environment and killed with the rest, on a real sshd node and on this computer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import KillState, NodeRunStatus
from labdeck.engine.engine import Engine
from labdeck.store import engine_files
from tests.conftest import add_sshd_node
from tests.support.waiting import wait_for


def processes_matching(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and not line.lstrip().startswith("Z")]


def _run(engine, job: Job):
    engine.catalog.add_job(job, replace=True)
    run = engine.start_job(job.name)
    assert engine.wait(run.id, 60)
    (nr,) = engine.catalog.node_runs(run.id)
    return nr


def _escaping_job(target: str, marker: str) -> Job:
    # the escaped child sleeps in its own session, outside the step's process group
    command = f"setsid sh -c 'sleep 602; : {marker}' & echo token=$LABDECK_RUN_TOKEN; sleep 600"
    return Job(name="escape", targets=target, steps=[Step(command=command)], policy=JobPolicy(timeout_s=3))


def test_a_setsid_child_on_an_ssh_node_is_killed_by_its_run_token(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    marker = f"escaped-{uuid.uuid4().hex[:8]}"
    nr = _run(engine, _escaping_job(sshd_node.name, marker))
    text = Path(nr.log_path).read_text()
    try:
        assert nr.status is NodeRunStatus.TIMED_OUT
        assert "token=" in text and "token=\n" not in text  # every step has its token
        assert processes_matching(marker) == [], "the escaped process survived the kill"
        assert nr.kill_state is KillState.KILLED
        assert "processes that had left its process group (found by the run token)" in nr.message
    finally:
        subprocess.run(["pkill", "-f", marker])


def test_a_setsid_child_on_this_computer_is_killed_by_its_run_token(engine):
    marker = f"escaped-{uuid.uuid4().hex[:8]}"
    nr = _run(engine, _escaping_job("this-computer", marker))
    try:
        assert nr.status is NodeRunStatus.TIMED_OUT
        deadline = time.monotonic() + 3
        while processes_matching(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_matching(marker) == [], "the escaped process survived the kill"
        assert nr.kill_state is KillState.KILLED
    finally:
        subprocess.run(["pkill", "-f", marker])


def _cli(data_dir, *args: str, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _engine_gone(data_dir) -> bool:
    lock = engine_files.try_lock(data_dir)
    if lock is not None:
        lock.release()
    return lock is not None


@pytest.mark.parametrize("where", ["ssh", "local"])
def test_leftovers_of_a_killed_labdeck_are_killed_at_its_next_start(data_dir, sshd_node, where):
    marker = f"orphan-{uuid.uuid4().hex[:8]}"
    if where == "ssh":
        engine = Engine(data_dir)
        add_sshd_node(engine, sshd_node, name="remote")
        engine.close()
    target = "remote" if where == "ssh" else "this-computer"
    proc = _cli(data_dir, "exec", "--targets", target, "--", f"sh -c 'sleep 610; : {marker}'; echo never")
    try:
        wait_for(lambda: processes_matching(marker), 30, what="the command never started")
        # SIGKILL the controller, the catalog's engine process (the CLI only follows the run): nothing
        # of LabDeck is left to stop the command
        os.kill(engine_files.read_address(data_dir).pid, signal.SIGKILL)
        proc.wait(30)
        assert processes_matching(marker), "the command should outlive its killed controller"
        again = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(data_dir), "exec",
                                "--targets", "this-computer", "--", "true"], capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr  # the next start of an engine for this catalog
        wait_for(lambda: not processes_matching(marker), 10, what="the leftover still runs after the next start")
        with contextlib.suppress(AssertionError):
            wait_for(lambda: _engine_gone(data_dir), 30)  # that engine has ended (it lingers a few seconds)
        with Engine(data_dir) as engine:
            (nr,) = engine.catalog.node_runs(1)
        assert nr.status is NodeRunStatus.INTERRUPTED
        assert f"of it left running on node {target} were killed" in nr.message, nr.message
        assert "found by the run token" in Path(nr.log_path).read_text()
    finally:
        subprocess.run(["pkill", "-f", marker])


def test_a_setsid_child_of_a_detached_run_is_killed_by_its_run_token(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    marker = f"escaped-{uuid.uuid4().hex[:8]}"
    job = _escaping_job(sshd_node.name, marker)
    job.policy = JobPolicy(timeout_s=4, launch="detached")
    nr = _run(engine, job)
    try:
        assert nr.status is NodeRunStatus.TIMED_OUT, nr.message
        wait_for(lambda: not processes_matching(marker), 5, what="the escaped process survived the kill")
        assert nr.kill_state is KillState.KILLED
    finally:
        subprocess.run(["pkill", "-f", marker])


def test_a_killed_cli_leaves_its_run_to_the_engine_and_the_app_can_cancel_it(data_dir, sshd_node):
    """One engine per catalog: the CLI only follows its run, so killing it orphans nothing; the
    app (a client of the same engine) sees the run going on and a cancel kills the command."""
    from labdeck.engine.engine_process import EngineProcess

    marker = f"orphan-{uuid.uuid4().hex[:8]}"
    app = EngineProcess(data_dir)  # the desktop app, open all along
    try:
        add_sshd_node(app, sshd_node, name="remote")
        proc = _cli(data_dir, "exec", "--targets", "remote", "--", f"sh -c 'sleep 610; : {marker}'; echo never")
        wait_for(lambda: processes_matching(marker), 30, what="the command never started")
        proc.kill()
        proc.wait(10)
        time.sleep(1)
        (run,) = app.catalog.list_runs(None, 5)
        assert run.status.value == "running" and processes_matching(marker)  # still the engine's, not a leftover
        app.cancel(run.id)
        assert app.wait(run.id, 30)
        wait_for(lambda: not processes_matching(marker), 15, what="the command still runs after the cancel")
        (nr,) = app.catalog.node_runs(run.id)
        assert nr.status is NodeRunStatus.CANCELLED and nr.kill_state is KillState.KILLED, (nr.status, nr.kill_state)
    finally:
        subprocess.run(["pkill", "-f", marker])
        app.close(cancel_running=True, stop_engine=True)


SUDOERS_FILE = Path("/etc/sudoers.d/labdeck-test-kill-unconfirmed")


@pytest.fixture
def root_sleep_login():
    """(user, password, helper) for an unprivileged login that may start one thing as root:
    ``sudo -n HELPER SECONDS``, a root sleep that ignores TERM. sudo keeps the run token and the
    step's process group (no pty), and passes the group's TERM on, which the sleep ignores; the
    group's KILL then reaches what the login owns, never the root sleep. Set up for this test only
    and removed after it; needs root and sudo."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a login and a sudo rule")
    if not Path("/usr/bin/sudo").exists() or not Path("/usr/sbin/visudo").exists():
        pytest.skip("needs sudo (apt-get install sudo) to start a process the login cannot kill")
    import shutil
    import tempfile

    from tests.support.sshd import ensure_password_user
    user, password = ensure_password_user()
    folder = Path(tempfile.mkdtemp(prefix="labdeck-root-helper-"))
    folder.chmod(0o755)
    helper = folder / "stubborn-sleep"
    helper.write_text("#!/bin/sh\ntrap '' TERM HUP INT\nexec /usr/bin/sleep \"$1\"\n")  # ignored across exec
    helper.chmod(0o755)
    rule = (f'Defaults:{user} !use_pty, env_keep += "LABDECK_RUN_TOKEN"\n'
            f"{user} ALL=(root) NOPASSWD: {helper}\n")
    part = SUDOERS_FILE.with_name(".labdeck-test-kill-unconfirmed.tmp")  # sudo skips names with a dot
    part.write_text(rule)
    part.chmod(0o440)
    check = subprocess.run(["/usr/sbin/visudo", "-c", "-q", "-f", str(part)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    os.replace(part, SUDOERS_FILE)
    try:
        yield user, password, helper
    finally:
        SUDOERS_FILE.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _root_processes_with(marker: str) -> list[int]:
    import psutil
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "uids"]):
        if marker in " ".join(proc.info["cmdline"] or []) and proc.info["uids"] and proc.info["uids"].real == 0:
            found.append(proc.info["pid"])
    return found


def test_a_process_the_login_cannot_kill_makes_the_kill_unconfirmed_and_is_named(engine, sshd_node,
                                                                                 root_sleep_login):
    user, password, helper = root_sleep_login
    add_sshd_node(engine, sshd_node, name="unpriv", username=user, key_file=None, secret=password)
    seconds = 600 + int.from_bytes(os.urandom(2), "big") % 5000  # marks this test's root sleep
    marker = f"/usr/bin/sleep {seconds}"
    job = Job(name="rooted", targets="unpriv", policy=JobPolicy(timeout_s=3),
              steps=[Step(command=f"sudo -n {helper} {seconds} & sleep 600")])
    try:
        nr = _run(engine, job)
        assert nr.status is NodeRunStatus.TIMED_OUT, (nr.message, Path(nr.log_path).read_text())
        assert nr.kill_state is KillState.KILL_UNCONFIRMED
        survivors = _root_processes_with(marker)
        assert survivors, "the root-owned sleep should still be running: the login could not kill it"
        # the message names what survived: the root sleep (and sudo, its root parent)
        assert "; still running: " in nr.message, nr.message
        assert "sleep (pid " in nr.message and ", user root)" in nr.message, nr.message
        assert any(f"(pid {pid}, user root)" in nr.message for pid in survivors), (nr.message, survivors)
        assert "step 1 timed out after 3 s; kill unconfirmed" in Path(nr.log_path).read_text()
    finally:
        for pid in _root_processes_with(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not _root_processes_with(marker), timeout=10)
