"""A workflow on a Windows node (the WS-Management test server, which like Windows has no
``$HOME``): its outputs file, its artifacts and its inputs live under the node's profile folder
as the WinRM executor knows it. The step text is valid cmd (and runs as sh on the server)."""

from __future__ import annotations

from pathlib import Path

from labdeck.core.status import RunStatus
from labdeck.store import paths
from tests.conftest import add_winrm_node
from tests.integration.test_workflows import run_yaml


def test_a_workflow_on_a_windows_node_passes_outputs_and_artifacts(engine, wsman_server):
    add_winrm_node(engine, wsman_server, tags=["lab"])
    run, tasks = run_yaml(engine, """
name: win-flow
targets: tag:lab
workflow:
  - name: A
    command: echo seed=42>>"%LABDECK_OUTPUT%"& echo made>made.txt
    artifacts: [made.txt]
  - name: B
    depends_on: [A]
    inputs: [A]
    command: echo B saw ${steps.A.outputs.seed} in "%LABDECK_INPUTS%"
""")
    assert run.status is RunStatus.SUCCEEDED, run.note
    runs = wsman_server.root / "profile" / ".labdeck" / "runs"
    log_b = Path(tasks["B"][1]["log_path"]).read_text()
    assert "B saw 42 in " in log_b
    # the step got a Windows path under the profile folder (the server maps it to its folder)
    assert (runs / f"wf-{run.id}-A-win1" / "outputs.env").read_text().strip() == "seed=42"
    assert (runs / f"wf-{run.id}-B-win1" / "in" / "A" / "made.txt").read_text().strip() == "made"
    assert (paths.work_dir(engine.data_dir) / "artifacts" / str(run.id) / "A" / "win1" / "made.txt").exists()
