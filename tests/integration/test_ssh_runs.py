"""Runs on real OpenSSH nodes through the engine: fan-out, timeouts that kill the whole
tree, unreachable nodes, host keys, option injection, big output, retries, parallelism."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from labdeck.core.models import Job, JobOption, JobPolicy, Step, StepKind
from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from tests.conftest import add_sshd_node


def run_job(engine, job: Job, options=None, timeout=60):
    engine.catalog.add_job(job, replace=True)
    run = engine.start_job(job.name, options or {})
    assert engine.wait(run.id, timeout), "run did not finish in time"
    return engine.catalog.get_run(run.id), {nr.node_name: nr for nr in engine.catalog.node_runs(run.id)}


def processes_matching(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and not line.lstrip().startswith("Z")]


def test_fan_out_to_twenty_nodes_keeps_each_nodes_output_apart(engine, sshd_nodes):
    for sshd in sshd_nodes(20):
        add_sshd_node(engine, sshd, tags=["lab"])
    job = Job(name="fan", targets="tag:lab", steps=[Step(command='echo "out of $LABDECK_NODE"; echo "err of $LABDECK_NODE" >&2')])
    run, node_runs = run_job(engine, job)
    assert run.status is RunStatus.SUCCEEDED
    assert len(node_runs) == 20
    for name, nr in node_runs.items():
        assert nr.status is NodeRunStatus.SUCCEEDED and nr.exit_code == 0
        text = Path(nr.log_path).read_text()
        assert f"out of {name}\n" in text and f"err of {name}\n" in text
        assert text.count("out of ") == 1  # no other node's output in this log


def test_timeout_kills_the_command_and_its_children_on_the_node(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    marker = f"labdeck-timeout-{uuid.uuid4().hex[:8]}"
    # The command ignores TERM and leaves a background child behind: both must be gone.
    command = f"trap '' TERM; sh -c 'sleep 300; : {marker}' & sh -c 'sleep 301; : {marker}'; echo never"
    job = Job(name="slow", targets=sshd_node.name, steps=[Step(command=command)], policy=JobPolicy(timeout_s=1.5))
    started = time.monotonic()
    run, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert nr.status is NodeRunStatus.TIMED_OUT
    assert nr.kill_state is KillState.KILLED
    assert time.monotonic() - started < 15
    assert processes_matching(marker) == []
    assert "timed out after 1.5 s" in Path(nr.log_path).read_text()


def test_stopped_node_is_unreachable_quickly_and_others_are_unaffected(engine, sshd_nodes):
    nodes = sshd_nodes(3)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    nodes[1].stop()
    job = Job(name="hello", targets="tag:lab", steps=[Step(command="echo ok")])
    started = time.monotonic()
    run, node_runs = run_job(engine, job)
    assert time.monotonic() - started < 10
    assert node_runs[nodes[1].name].status is NodeRunStatus.UNREACHABLE
    assert "cannot connect" in node_runs[nodes[1].name].message
    assert node_runs[nodes[0].name].status is NodeRunStatus.SUCCEEDED
    assert node_runs[nodes[2].name].status is NodeRunStatus.SUCCEEDED
    assert run.status is RunStatus.FAILED


def test_node_dropping_mid_run_is_unreachable_not_failed(engine, sshd_nodes):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    job = Job(name="long", targets="tag:lab", steps=[Step(command="echo started; sleep 4; echo done")])
    engine.catalog.add_job(job)
    run = engine.start_job("long")
    time.sleep(1.5)
    dropped_at = time.monotonic()
    nodes[0].stop()
    assert engine.wait(run.id, 30)
    node_runs = {nr.node_name: nr for nr in engine.catalog.node_runs(run.id)}
    dropped = node_runs[nodes[0].name]
    assert dropped.status is NodeRunStatus.UNREACHABLE
    assert dropped.finished_at - (time.time() - (time.monotonic() - dropped_at)) < 10
    assert node_runs[nodes[1].name].status is NodeRunStatus.SUCCEEDED
    assert "done" in Path(node_runs[nodes[1].name].log_path).read_text()


def test_changed_host_key_is_refused_with_both_fingerprints_and_nothing_runs(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    old_fingerprint = sshd_node.host_key_fingerprint
    sshd_node.regenerate_host_key()
    sshd_node.stop()
    sshd_node.start()
    marker = Path(f"/tmp/labdeck-hostkey-{uuid.uuid4().hex[:8]}")
    job = Job(name="touch", targets=sshd_node.name, steps=[Step(command=f"touch {marker}")])
    engine.pool.forget(sshd_node.name)  # as after a restart of LabDeck: a new connection
    _, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert nr.status is NodeRunStatus.ERROR
    assert sshd_node.name in nr.message
    assert old_fingerprint in nr.message and sshd_node.host_key_fingerprint in nr.message
    assert not marker.exists()


def test_unknown_host_key_is_not_accepted_silently(engine, sshd_node):
    from labdeck.core.errors import HostKeyUnknown
    from labdeck.core.models import Node, Transport
    node = Node(name="fresh", transport=Transport.SSH, host=sshd_node.host, port=sshd_node.port,
                username=sshd_node.user, key_file=str(sshd_node.key_file))
    try:
        engine.add_node(node)
    except HostKeyUnknown as exc:
        assert exc.fingerprint == sshd_node.host_key_fingerprint
    else:
        raise AssertionError("a node with an unaccepted host key was added")
    assert [n.name for n in engine.catalog.list_nodes()] == ["this-computer"]


def test_option_values_cannot_inject_commands(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node)
    pwned = tmp_path / "pwned"
    hostile = f"x; touch {pwned}; echo $(touch {pwned}) `touch {pwned}` ' \" \\ $HOME"
    job = Job(name="greet", targets=f"{sshd_node.name},this-computer",
              steps=[Step(command='printf "[%s]\\n" ${option.value}; printf "<%s>\\n" "$LABDECK_OPTION_VALUE"')],
              options=[JobOption(name="value")])
    run, node_runs = run_job(engine, job, {"value": hostile})
    assert run.status is RunStatus.SUCCEEDED
    assert not pwned.exists()
    for nr in node_runs.values():
        text = Path(nr.log_path).read_text()
        assert f"[{hostile}]\n" in text and f"<{hostile}>\n" in text


def test_ten_megabytes_on_stdout_and_stderr_at_once_are_all_kept(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    size = 10 * 1024 * 1024
    command = f"yes OUTLINE | head -c {size} & yes ERRLINE | head -c {size} >&2; wait"
    job = Job(name="loud", targets=sshd_node.name, steps=[Step(command=command)], policy=JobPolicy(timeout_s=120))
    _, node_runs = run_job(engine, job, timeout=150)
    nr = node_runs[sshd_node.name]
    assert nr.status is NodeRunStatus.SUCCEEDED
    data = Path(nr.log_path).read_bytes()
    assert len(data) == 2 * size
    assert data.count(b"OUTLINE\n") == size // 8 and data.count(b"ERRLINE\n") == size // 8


def test_script_step_is_uploaded_as_a_file_and_large_scripts_work(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    body = "#!/bin/sh\n" + "".join(f"echo line {i} >/dev/null\n" for i in range(20000)) + 'echo "ran from $0 with" ${option.n}\n'
    job = Job(name="script", targets=sshd_node.name, options=[JobOption(name="n", default="it's 5")],
              steps=[Step(kind=StepKind.SCRIPT, script=body, filename="gen.sh")])
    assert len(body) > 300_000  # far past any command-line limit
    _, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert nr.status is NodeRunStatus.SUCCEEDED, Path(nr.log_path).read_text()
    assert "ran from .labdeck/runs/run-" in Path(nr.log_path).read_text()
    assert "with it's 5" in Path(nr.log_path).read_text()


def test_failed_node_run_is_retried_and_can_succeed(engine, sshd_node, tmp_path):
    add_sshd_node(engine, sshd_node)
    flag = tmp_path / "second-try"
    job = Job(name="flaky", targets=sshd_node.name,
              steps=[Step(command=f"if [ -e {flag} ]; then echo fine; else touch {flag}; exit 7; fi")],
              policy=JobPolicy(retries=2, retry_delay_s=0.2))
    run, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    assert run.status is RunStatus.SUCCEEDED and nr.attempt == 2
    assert "attempt 1 ended failed" in Path(nr.log_path).read_text()


def test_max_parallel_limits_nodes_running_at_once(engine, sshd_nodes, tmp_path):
    for sshd in sshd_nodes(4):
        add_sshd_node(engine, sshd, tags=["lab"])
    stamps = tmp_path / "stamps"
    job = Job(name="two-at-a-time", targets="tag:lab", policy=JobPolicy(max_parallel=2),
              steps=[Step(command=f"echo start $(date +%s.%N) >> {stamps}; sleep 1; echo end $(date +%s.%N) >> {stamps}")])
    run, _ = run_job(engine, job)
    assert run.status is RunStatus.SUCCEEDED
    running, peak = 0, 0
    events = sorted((float(t), kind) for kind, t in (line.split() for line in stamps.read_text().splitlines()))
    for _, kind in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def test_cancel_one_node_run_leaves_the_others_running(engine, sshd_nodes):
    nodes = sshd_nodes(2)
    for sshd in nodes:
        add_sshd_node(engine, sshd, tags=["lab"])
    marker = f"labdeck-cancel-{uuid.uuid4().hex[:8]}"
    job = Job(name="cancel-me", targets="tag:lab", steps=[Step(command=f"sh -c 'sleep 2; : {marker}'; echo finished")])
    engine.catalog.add_job(job)
    run = engine.start_job(job.name)
    time.sleep(0.8)
    engine.cancel(run.id, nodes[0].name)
    assert engine.wait(run.id, 30)
    node_runs = {nr.node_name: nr for nr in engine.catalog.node_runs(run.id)}
    assert node_runs[nodes[0].name].status is NodeRunStatus.CANCELLED
    assert node_runs[nodes[0].name].kill_state is KillState.KILLED
    assert node_runs[nodes[1].name].status is NodeRunStatus.SUCCEEDED


def test_wrong_password_is_a_clear_error_and_leaves_nothing_behind(engine, sshd_node):
    from labdeck.core.errors import AuthenticationFailed
    from labdeck.core.models import Node, Transport
    from tests.support.sshd import ensure_password_user
    user, _ = ensure_password_user()
    node = Node(name="pw", transport=Transport.SSH, host=sshd_node.host, port=sshd_node.port, username=user)
    try:
        engine.add_node(node, secret="not-the-password", accept_host_key=True)
    except AuthenticationFailed as exc:
        assert "login as 'labdeck-test' refused" in str(exc)
    else:
        raise AssertionError("a wrong password was accepted")
    assert "pw" not in [n.name for n in engine.catalog.list_nodes()]
    import keyring

    from labdeck.store.identity import catalog_token
    assert keyring.get_password("LabDeck", f"node:{catalog_token(engine.catalog)}:pw") is None


def test_password_never_reaches_the_catalog_or_logs(engine, sshd_node, data_dir):
    from labdeck.core.models import Node, Transport
    from tests.support.sshd import ensure_password_user
    user, password = ensure_password_user()
    engine.add_node(Node(name="pw", transport=Transport.SSH, host=sshd_node.host, port=sshd_node.port, username=user),
                    secret=password, accept_host_key=True)
    # The node prints its own password: the log must mask it, even when split across writes.
    secret_file = f"/tmp/labdeck-secret-{uuid.uuid4().hex[:8]}"
    Path(secret_file).write_text(password)
    Path(secret_file).chmod(0o644)
    half = len(password) // 2
    command = (f"cat {secret_file}; echo; head -c {half} {secret_file}; sleep 0.3; "
               f"tail -c +{half + 1} {secret_file}; echo; echo done")
    run, node_runs = run_job(engine, Job(name="leak", targets="pw", steps=[Step(command=command)]))
    assert run.status is RunStatus.SUCCEEDED
    assert Path(node_runs["pw"].log_path).read_text().count("********") == 2
    engine.catalog.close()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), f"password found in {path}"


def test_cancel_during_a_slow_login_still_kills_the_command(engine, sshd_node):
    # The node's login takes 3 s (as a heavy shell profile would): the cancel arrives before
    # the command has reported its process group, and must still end with nothing left running.
    sshd_node.extra_config = 'ForceCommand sleep 3; eval "$SSH_ORIGINAL_COMMAND"\n'
    sshd_node.stop()
    sshd_node.start()
    add_sshd_node(engine, sshd_node)
    marker = f"labdeck-slowlogin-{uuid.uuid4().hex[:8]}"
    job = Job(name="slow-login", targets=sshd_node.name, steps=[Step(command=f"sh -c 'sleep 60; : {marker}'")])
    engine.catalog.add_job(job)
    run = engine.start_job(job.name)
    time.sleep(0.5)
    engine.cancel(run.id)
    assert engine.wait(run.id, 40)
    nr = engine.catalog.node_runs(run.id)[0]
    assert nr.status is NodeRunStatus.CANCELLED
    assert nr.kill_state is KillState.KILLED
    time.sleep(0.5)
    assert processes_matching(marker) == []


def test_a_step_whose_shell_is_killed_by_a_signal_says_which_signal(engine, sshd_node):
    add_sshd_node(engine, sshd_node)
    job = Job(name="oom", targets=sshd_node.name, steps=[Step(command="echo started; kill -9 $$")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs[sshd_node.name]
    # sshd reports the step's own shell killed with exit-signal, which paramiko drops: not "-1"
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 137
    assert "killed by SIGKILL" in nr.message and "out-of-memory" in nr.message
