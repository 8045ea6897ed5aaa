"""Two catalogs (two desks, two data folders) using one login on one real sshd node: each runs
only its own scripts, uploads are atomic, and a finished attached run leaves no folder behind."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from labdeck.core.models import Job, Step, StepKind
from labdeck.core.status import NodeRunStatus
from labdeck.engine.engine import Engine
from labdeck.store.identity import catalog_token
from tests.conftest import add_sshd_node


def _script_job(marker: str, node: str) -> Job:
    body = f"#!/bin/sh\necho start {marker}\nsleep 1\necho end {marker}\n"
    return Job(name="same", targets=node, steps=[Step(kind=StepKind.SCRIPT, script=body, filename="job.sh")])


def test_two_catalogs_on_one_login_each_run_their_own_script(tmp_path, sshd_node):
    engines = [Engine(tmp_path / f"desk{i}") for i in (1, 2)]
    name = f"shared-{uuid.uuid4().hex[:6]}"  # the login's home is shared with other tests too
    try:
        for index, engine in enumerate(engines):
            add_sshd_node(engine, sshd_node, name=name)
            engine.catalog.add_job(_script_job(f"catalog-{index}", name))
        assert catalog_token(engines[0].catalog) != catalog_token(engines[1].catalog)
        runs: list = [None, None]

        def start(index: int) -> None:
            runs[index] = engines[index].start_job("same")

        starters = [threading.Thread(target=start, args=(i,)) for i in (0, 1)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        assert runs[0].id == runs[1].id == 1  # both catalogs' run 1, at the same time
        for index, engine in enumerate(engines):
            assert engine.wait(runs[index].id, 60)
            (nr,) = engine.catalog.node_runs(runs[index].id)
            text = Path(nr.log_path).read_text()
            assert nr.status is NodeRunStatus.SUCCEEDED, text
            assert f"start catalog-{index}" in text and f"end catalog-{index}" in text, text
            assert f"catalog-{1 - index}" not in text, text
        # a finished attached run leaves nothing in the login's run folders
        left = [p.name for p in (Path.home() / ".labdeck" / "runs").glob(f"run-1-{name}*")]
        assert left == []
    finally:
        for engine in engines:
            engine.close()
