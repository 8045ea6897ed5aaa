"""The one engine API: the in-process Engine and the engine-process client both offer every
member of ``EngineApi`` with the same parameters, so the GUI and the CLI can be handed
either without a call failing (or silently losing an argument) on one of them."""

from __future__ import annotations

import inspect

import pytest

from labdeck.engine.api import EngineApi, NodeImportApi, NodesApi, SchedulerApi, TransfersApi
from labdeck.engine.engine import Engine
from labdeck.engine.engine_process import EngineProcess
from labdeck.engine.node_import import NodeImporter
from labdeck.engine.nodes import NodeManager
from labdeck.engine.scheduler import Scheduler
from labdeck.engine.transfers import TransferManager


def _members(protocol) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))}


def _parameters(fn) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("implementation", [Engine, EngineProcess])
def test_both_engines_offer_every_call_with_the_same_parameters(implementation):
    for name, member in _members(EngineApi).items():
        assert hasattr(implementation, name) or name in ("nodes", "node_import", "transfers", "scheduler", "after"), \
            f"{implementation.__name__} has no {name}"
        if inspect.isfunction(member):
            assert _parameters(getattr(implementation, name)) == _parameters(member), \
                f"{implementation.__name__}.{name} takes other parameters than EngineApi.{name}"


@pytest.mark.parametrize("protocol, implementation", [(NodesApi, NodeManager), (TransfersApi, TransferManager),
                                                      (SchedulerApi, Scheduler), (NodeImportApi, NodeImporter)])
def test_the_engine_parts_the_api_names_match_it(protocol, implementation):
    for name, member in _members(protocol).items():
        assert hasattr(implementation, name), f"{implementation.__name__} has no {name}"
        if inspect.isfunction(member):
            assert _parameters(getattr(implementation, name)) == _parameters(member), \
                f"{implementation.__name__}.{name} takes other parameters than {protocol.__name__}.{name}"


def test_importing_the_api_loads_no_engine_machinery():
    import subprocess
    import sys
    code = ("import sys; import labdeck.engine.api; "
            "print(','.join(m for m in ('paramiko', 'apscheduler', 'labdeck.engine.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_a_client_may_call_the_api_and_nothing_else():
    from labdeck.engine.api import allowed_calls
    calls = allowed_calls()
    assert {"start_job", "cancel", "wait", "successor", "nodes.add", "transfers.results", "scheduler.running"} <= calls
    assert "close" not in calls and "catalog.remove_node" not in calls and "pool.close" not in calls
