"""The local executor on this computer: output drained from both pipes, deadline kills the whole tree."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest

from labdeck.core.status import KillState
from labdeck.executors.base import CommandRequest, Deadline, Ending, ScriptFile
from labdeck.executors.local.executor import LocalExecutor

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX sh commands; the Windows side is tests/unit/test_windows_local.py")


def collect():
    chunks: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    return chunks, lambda stream, data: chunks[stream].extend(data)


def test_both_pipes_drained_without_stalling(tmp_path):
    chunks, sink = collect()
    size = 8 * 1024 * 1024
    result = LocalExecutor(tmp_path).run(
        CommandRequest(command=f"head -c {size} /dev/zero & head -c {size} /dev/zero >&2; wait"),
        sink, Deadline.after(60), threading.Event())
    assert result.ending is Ending.EXITED and result.exit_code == 0
    assert len(chunks["stdout"]) == size and len(chunks["stderr"]) == size


def test_deadline_kills_tree_including_term_ignoring_children(tmp_path):
    marker = f"labdeck-local-{uuid.uuid4().hex[:8]}"
    chunks, sink = collect()
    request = CommandRequest(command=f"trap '' TERM; sh -c 'trap \"\" TERM; sleep 200; : {marker}' & sleep 201",
                             kill_grace_s=0.5)
    result = LocalExecutor(tmp_path).run(request, sink, Deadline.after(0.5), threading.Event())
    assert result.ending is Ending.TIMED_OUT and result.kill_state is KillState.KILLED
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if marker in line and not line.startswith("Z")]


def test_script_is_written_as_a_file_and_env_is_passed(tmp_path):
    chunks, sink = collect()
    request = CommandRequest(script=ScriptFile("s.sh", 'echo "$0 $LABDECK_OPTION_X"'), env={"LABDECK_OPTION_X": "v"},
                             run_tag="run-1-local")
    result = LocalExecutor(tmp_path).run(request, sink, Deadline.after(10), threading.Event())
    assert result.exit_code == 0
    assert chunks["stdout"].decode() == f"{tmp_path}/run-1-local/s.sh v\n"
