"""A .ps1 step reaches a Windows node with a UTF-8 BOM, attached or detached: Windows PowerShell 5.1
reads a .ps1 without one in the ANSI code page, and German or Korean text in it comes out garbled.
(The WS-Man test server runs the script as sh text after dropping the BOM, as PowerShell does; the
Windows CI job runs a .ps1 through real PowerShell 5.1 in tests/unit/test_windows_local.py.)"""

from __future__ import annotations

from pathlib import Path

from labdeck.core.models import Job, JobPolicy, Step, StepKind
from labdeck.core.status import NodeRunStatus
from labdeck.executors.windows_cmd import script_bytes
from labdeck.store.detached import DetachedStore
from labdeck.store.identity import catalog_token  # the run folder is unique per catalog
from tests.conftest import add_winrm_node
from tests.integration.test_ssh_runs import run_job

WORDS = "한국어 Größe"


def test_script_bytes_add_the_bom_to_ps1_only():
    assert script_bytes("a.PS1", WORDS) == b"\xef\xbb\xbf" + WORDS.encode()
    assert script_bytes("a.ps1", "\ufeffx") == b"\xef\xbb\xbfx"  # never two
    assert script_bytes("a.bat", WORDS) == WORDS.encode()


def test_an_attached_ps1_is_uploaded_with_a_bom_and_its_words_read_back(engine, wsman_server, tmp_path):
    add_winrm_node(engine, wsman_server)
    kept = tmp_path / "kept.ps1"
    runs = wsman_server.root / "profile" / ".labdeck" / "runs"
    # the run folder is removed when the node run ends, so the script keeps a copy of itself as uploaded
    body = f"echo {WORDS}\ncp {runs}/run-*-win1-{catalog_token(engine.catalog)}/words.ps1 {kept}\nexit 0\n"
    job = Job(name="words", targets="win1", steps=[Step(kind=StepKind.SCRIPT, script=body, filename="words.ps1")])
    run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert f"{WORDS}\n" in Path(nr.log_path).read_text(encoding="utf-8")
    assert kept.read_bytes() == b"\xef\xbb\xbf" + body.encode()


def test_a_detached_ps1_is_uploaded_with_a_bom(engine, wsman_server):
    add_winrm_node(engine, wsman_server)
    job = Job(name="words-detached", targets="win1", policy=JobPolicy(launch="detached"),
              steps=[Step(kind=StepKind.SCRIPT, script=f"echo {WORDS}\n", filename="words.ps1")])
    run, node_runs = run_job(engine, job)
    nr = node_runs["win1"]
    assert nr.status is NodeRunStatus.SUCCEEDED, nr.message
    assert f"{WORDS}\n" in Path(nr.log_path).read_text(encoding="utf-8")
    record = DetachedStore(engine.catalog).get(nr.id)
    folder = wsman_server.root / "profile" / record.remote_dir.replace("\\", "/")
    scripts = [p for p in folder.rglob("*.ps1") if p.name != "launch.ps1"]
    assert scripts and all(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in scripts), scripts
