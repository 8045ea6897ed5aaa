"""WinRM over HTTPS: the node's certificate is checked unless the node turns that off."""

from __future__ import annotations

from pathlib import Path

import pytest

from labdeck.core.errors import LabDeckError
from labdeck.core.models import Job, Step
from labdeck.core.status import NodeRunStatus
from tests.conftest import add_winrm_node
from tests.support.runs import run_job
from tests.support.tls import self_signed_certificate
from tests.support.wsman_server import WsmanServer


@pytest.fixture
def https_server(tmp_path):
    certificate = self_signed_certificate(tmp_path / "tls")
    server = WsmanServer(tmp_path / "node", certificate=certificate).start()
    yield server
    server.stop()


def test_an_untrusted_certificate_is_refused_with_what_to_do(engine, https_server):
    with pytest.raises(LabDeckError) as info:
        add_winrm_node(engine, https_server, https=True)
    message = str(info.value)
    assert "HTTPS certificate is not trusted" in message and "--no-verify-cert" in message
    assert "win1" not in {n.name for n in engine.catalog.list_nodes()}


def test_turning_the_check_off_for_the_node_lets_it_run(engine, https_server):
    add_winrm_node(engine, https_server, https=True, verify_cert=False)
    _run, node_runs = run_job(engine, Job(name="x", targets="win1", steps=[Step(command="echo over-tls")]))
    assert node_runs["win1"].status is NodeRunStatus.SUCCEEDED
    assert "over-tls\n" in Path(node_runs["win1"].log_path).read_text()


def test_a_trusted_ca_bundle_passes_the_check(engine, https_server, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(https_server.certificate[0]))
    add_winrm_node(engine, https_server, https=True)
    assert engine.catalog.get_node("win1").os_family == "windows"
