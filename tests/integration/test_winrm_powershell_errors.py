"""PowerShell 5.1 writes its errors to a redirected stderr as CLIXML; the WS-Management test
server's PowerShell stand-ins do the same (tests/support/wsman_command.py). What LabDeck shows
(a PowerShell step's live log, a failed upload) is the text, never the XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.errors import LabDeckError
from labdeck.core.models import Job, Step
from labdeck.core.status import NodeRunStatus
from tests.conftest import add_winrm_node
from tests.integration.test_ssh_runs import run_job


def test_a_powershell_steps_errors_reach_the_log_as_text(engine, wsman_server):
    add_winrm_node(engine, wsman_server, shell="powershell")
    job = Job(name="ps-err", targets="win1", steps=[
        Step(command="echo before; printf '%s\\n' 'Cannot find path C:\\nope_x000D_' >&2; sleep 1;"
                     " echo 'second <error> & more' >&2; echo after; exit 2")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 2
    text = Path(nr.log_path).read_text()
    lines = text.splitlines()
    assert "Cannot find path C:\\nope_x000D_" in lines  # an underscore escape in the text itself survives
    assert "second <error> & more" in lines
    assert "before\n" in text and "after\n" in text
    assert "CLIXML" not in text and "<Objs" not in text and "_x000A_" not in text


def test_a_failed_upload_says_why_in_words(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    (wsman_server.root / "profile" / "blocker").write_text("a file where a folder should be")
    local = tmp_path / "f.bin"
    local.write_bytes(b"data")
    executor = engine.pool.get(engine.catalog.get_node("win1"))
    with pytest.raises(LabDeckError) as info:
        executor.upload(local, "blocker/f.bin")
    message = str(info.value)
    assert 'uploading blocker/f.bin failed (Exception calling "Create" with "1" argument(s)' in message
    assert "CLIXML" not in message and "Objs" not in message


def test_a_detached_powershell_steps_errors_reach_the_log_as_text(engine, wsman_server):
    from labdeck.core.models import JobPolicy

    add_winrm_node(engine, wsman_server, shell="powershell")
    job = Job(name="ps-detached", targets="win1", policy=JobPolicy(launch="detached"),
              steps=[Step(command="echo before; echo 'it <broke> & stopped' >&2; exit 3")])
    _run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.FAILED and nr.exit_code == 3, nr.message
    text = Path(nr.log_path).read_text()
    assert "it <broke> & stopped" in text.splitlines() and "before" in text
    assert "CLIXML" not in text and "<Objs" not in text
