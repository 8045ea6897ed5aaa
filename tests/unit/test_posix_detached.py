"""The detached launcher and status scripts, run for real with /bin/sh on this computer
(LocalDetachedOps in a temporary home folder)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from labdeck.core.status import KillState
from labdeck.executors.base import ScriptFile
from labdeck.executors.detached_ops import LocalDetachedOps
from labdeck.executors.posix_detached import parse_status

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX sh and process groups (local detached runs are POSIX-only)")


def wait_state(ops, folder, pgid, state, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        current = ops.status(folder, pgid)
        if current.state == state:
            return current
        time.sleep(0.05)
    raise AssertionError(f"never reached {state}: {current}")


def test_steps_env_and_exit_code_are_kept_in_the_run_folder(tmp_path):
    ops = LocalDetachedOps(home=tmp_path)
    folder = ops.run_dir("run-1-a")
    hostile = "a'b\"c $(touch pwned) `touch pwned2` ; & | %X% \n second line"
    pgid = ops.launch(folder, ["echo \"value=$LABDECK_OPTION_V\"", ScriptFile("two.sh", "echo two >&2; exit 4"),
                               "echo never"], {"LABDECK_OPTION_V": hostile})
    state = wait_state(ops, folder, pgid, "exited")
    assert (state.exit_code, state.step) == (4, 2)
    out = ops.read(folder, "out", 0, 1 << 20).decode()
    assert out == f"value={hostile}\n"
    assert ops.read(folder, "err", 0, 1 << 20) == b"two\n"
    assert (state.out_size, state.err_size) == (len(out.encode()), 4)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert ops.read(folder, "out", 6, 5) == out.encode()[6:11]  # from an offset


def test_running_kill_and_gone(tmp_path):
    ops = LocalDetachedOps(home=tmp_path)
    folder = ops.run_dir("run-2-a")
    pgid = ops.launch(folder, ["sleep 60"], {})
    assert ops.status(folder, pgid).state == "running"
    assert ops.status(folder, None).pgid == pgid  # found from the pid file when the catalog lost it
    assert ops.kill(pgid, 1.0) is KillState.KILLED
    assert ops.status(folder, pgid).state == "gone"  # killed: no exit code was written


def test_cleanup_keeps_running_folders_and_removes_old_finished_ones(tmp_path):
    ops = LocalDetachedOps(home=tmp_path)
    done, going = ops.run_dir("run-3-done"), ops.run_dir("run-3-going")
    wait_state(ops, done, ops.launch(done, ["true"], {}), "exited")
    pgid = ops.launch(going, ["sleep 60"], {})
    old = time.time() - 3 * 86400
    for path in [tmp_path / done, tmp_path / going, *(tmp_path / done).iterdir(), *(tmp_path / going).iterdir()]:
        os.utime(path, (old, old))
    ops.cleanup(older_than_min=24 * 60)
    assert not (tmp_path / done).exists()
    assert (tmp_path / going).exists()
    ops.kill(pgid, 1.0)


def test_parse_status_reads_state_group_and_sizes():
    state = parse_status("EXIT 3 2\nPGID 4242\nSIZES 10 20\n")
    assert (state.state, state.exit_code, state.step, state.pgid, state.out_size, state.err_size) == \
        ("exited", 3, 2, 4242, 10, 20)
    assert parse_status("").state == "gone"
    assert parse_status("RUNNING\nPGID 0\nSIZES 0 0").pgid is None
