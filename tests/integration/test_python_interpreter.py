""".py script steps run with the node's Python setting: validated where it enters, used by every
executor, and when none is set on a frozen Windows LabDeck, the py launcher or a real python.exe
is found (never the Microsoft Store's placeholder), or the step fails saying what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from labdeck.core.errors import InvalidInput
from labdeck.core.interpreters import check_interpreter, windows_python
from labdeck.executors.base import CommandRequest, Deadline, ScriptFile
from labdeck.executors.local import executor as local
from labdeck.executors.posix_shell import script_invocation
from labdeck.executors.winrm.launch import script_payload

LABDECK = [sys.executable, "-m", "labdeck.cli"]
STUB = r"C:\Users\ana\AppData\Local\Microsoft\WindowsApps\python.exe"


def labdeck(data_dir, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*LABDECK, "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize("value", [r"C:\Program Files\Python312\python.exe", "py -3", "/opt/conda/bin/python",
                                   "python3", "  python3.12  "])
def test_paths_and_plain_commands_are_accepted(value):
    assert check_interpreter(value) == value.strip()


@pytest.mark.parametrize("value", ["python & calc", 'C:\\x\\python.exe"', "python3\nrm -rf ~", "py -3 %X%",
                                   "$(evil)", "python;id"])
def test_anything_a_shell_would_act_on_is_refused_in_one_line(value):
    with pytest.raises(InvalidInput, match="give a path such as") as caught:
        check_interpreter(value)
    assert "\n" not in str(caught.value).replace(value, "")


def test_windows_finds_the_launcher_or_a_real_python_never_the_store_placeholder():
    assert windows_python({"py": r"C:\Windows\py.exe", "python": STUB}.get) == "py -3"
    assert windows_python({"python": r"C:\Python312\python.exe"}.get) == r"C:\Python312\python.exe"
    assert windows_python({"python": STUB}.get) is None
    assert windows_python({}.get) is None


def test_every_executor_uses_the_nodes_interpreter():
    script = ScriptFile("train.py", "print(1)", "/opt/conda/bin/python")
    assert script_invocation("/w/train.py", script) == "/opt/conda/bin/python /w/train.py"
    assert script_invocation("/w/train.py", ScriptFile("train.py", "")) == "python3 /w/train.py"
    windows = ScriptFile("train.py", "", r"C:\Program Files\Python312\python.exe")
    assert script_payload(windows, "p").text == r'"C:\Program Files\Python312\python.exe" "!LABDECK_SCRIPT!"'


def test_a_frozen_labdeck_on_windows_without_python_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(local.shutil, "which", {"python": STUB}.get)
    executor = local.LocalExecutor(tmp_path, node_name="this-computer")
    with pytest.raises(InvalidInput, match=r"no Python found on node 'this-computer' to run 'job.py'.*"
                                           r"labdeck node python this-computer PATH"):
        executor.windows_command_line(CommandRequest(script=ScriptFile("job.py", "print(1)"), run_tag="r"))
    monkeypatch.setattr(local.shutil, "which", {"py": r"C:\Windows\py.exe"}.get)
    line, env = executor.windows_command_line(CommandRequest(script=ScriptFile("job.py", "print(1)"), run_tag="r"))
    assert line.endswith(' & py -3 "!LABDECK_SCRIPT!""') and env["PYTHONIOENCODING"] == "utf-8"


@pytest.mark.skipif(sys.platform == "win32", reason="the wrapper interpreter is a POSIX shell script")
def test_a_py_step_runs_with_the_interpreter_set_on_the_node(tmp_path):
    wrapper = tmp_path / "my python"
    wrapper.write_text(f'#!/bin/sh\necho "via the node\'s interpreter"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    data = tmp_path / "data"
    refused = labdeck(data, "node", "python", "this-computer", "python3; id")
    assert refused.returncode == 2 and "will not put on a command line" in refused.stderr
    assert labdeck(data, "node", "python", "this-computer", str(wrapper)).returncode == 0
    nodes = json.loads(labdeck(data, "node", "list", "--json").stdout)
    assert nodes[0]["python"] == str(wrapper)
    script = tmp_path / "hello.py"
    script.write_text("print('hello from python')\n")
    assert labdeck(data, "job", "add", "py", "--script", str(script), "--targets", "this-computer").returncode == 0
    result = labdeck(data, "run", "py", "--json")
    assert result.returncode == 0, result.stderr
    log = Path(json.loads(result.stdout)["nodes"][0]["log"]).read_text()
    assert "via the node's interpreter" in log and "hello from python" in log


def test_local_runs_a_py_step_with_the_scripts_interpreter(tmp_path):
    chunks = bytearray()
    script = ScriptFile("v.py", "import sys; print(sys.version_info[0])", sys.executable)
    result = local.LocalExecutor(tmp_path).run(CommandRequest(script=script, run_tag="r"),
                                               lambda _name, data: chunks.extend(data), Deadline.after(60),
                                               threading.Event())
    assert result.exit_code == 0 and chunks.decode().strip() == "3"
