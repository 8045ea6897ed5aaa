"""cmd.exe's own rules on a Windows node, through the WS-Management test server (which follows
them for what LabDeck relies on, see tests/support/wsman_emulation.translate_cmd): a literal
``!`` survives, option values stay injection-proof, and a line over cmd's 8191 characters never
reaches cmd."""

from __future__ import annotations

from pathlib import Path

from labdeck.core.models import Job, JobOption, Step
from labdeck.core.status import NodeRunStatus
from tests.conftest import add_winrm_node
from tests.integration.test_ssh_runs import run_job


def test_a_literal_exclamation_mark_survives(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    _run, node_runs = run_job(engine, Job(name="bang", targets="win1", steps=[Step(command="echo Done! Really!")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "Done! Really!\n" in Path(node_runs["win1"].log_path).read_text()


def test_a_literal_exclamation_mark_survives_next_to_an_option(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="bang-opt", targets="win1", options=[JobOption("v", default="x")],
              steps=[Step(command="echo [${option.v}] Done! Wow!")])
    _run, node_runs = run_job(engine, job, {"v": "a & b !c! ^d"})
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "[a & b !c! ^d] Done! Wow!\n" in Path(node_runs["win1"].log_path).read_text()


def test_a_command_over_cmds_line_limit_is_refused_with_what_to_do(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    command = "echo " + "x" * 8200
    _run, node_runs = run_job(engine, Job(name="long", targets="win1", steps=[Step(command=command)]))
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.ERROR, nr.message
    assert "too long for cmd.exe" in nr.message and "8191" in nr.message and "script step" in nr.message
    assert "The command line is too long" not in Path(nr.log_path).read_text()  # never reached cmd


def test_a_literal_exclamation_mark_survives_in_a_detached_run(engine, wsman_server):
    from tests.integration.test_detached_runs import DETACHED

    add_winrm_node(engine, wsman_server)
    job = Job(name="bang-detached", targets="win1", policy=DETACHED, options=[JobOption("v", default="x")],
              steps=[Step(command="echo Done!"), Step(command="echo [${option.v}] Wow!")])
    _run, node_runs = run_job(engine, job, {"v": "a!b"})
    text = Path(node_runs["win1"].log_path).read_text()
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED, node_runs["win1"].message
    assert "Done!\n" in text and "[a!b] Wow!\n" in text
