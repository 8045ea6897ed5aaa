"""The one engine API: what the GUI and the CLI may ask of LabDeck's engine, whether the
engine runs in this process (``Engine``) or in the catalog's engine process
(``EngineProcess``, a client of engine/engine_process.py). Both implement ``EngineApi``;
callers are typed against it and never reach into an engine's parts (dispatcher, queue,
pool) — those exist only in the process that owns the catalog.

Every call may cross a process boundary: arguments and results are plain data (core
models, dataclasses), and a call may fail with ``EngineProcessGone`` when the engine process
ended. ``catalog`` and ``bus`` are always local: reads and simple edits go straight to the
SQLite file, and the bus delivers the engine's events in this process.

Importing this module is cheap (no paramiko, no APScheduler): the CLI's read-only commands
import it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

if TYPE_CHECKING:
    from ..core.models import Job, Node, Run, Trigger
    from ..core.transfers import NodeTransferResult
    from ..importers import NodeCandidate
    from ..store.catalog import Catalog
    from ..store.run_waits import RunWait
    from .bus import EventBus
    from .jump_paths import JumpLookup
    from .node_import import ImportPlan, ImportResult
    from .nodes import NodeCheck
    from .transfers import Transfer, TransferRequest


class NodesApi(Protocol):
    """Adding, changing, testing and removing nodes (engine/nodes.py)."""

    def presented_host_key(self, node: Node, lookup: JumpLookup | None = None) -> tuple[str, str, str]: ...

    def try_login(self, node: Node, secret: str | None, accepted_fingerprint: str | None,
                  lookup: JumpLookup | None = None) -> NodeCheck: ...

    def add(self, node: Node, secret: str | None = None, accept_host_key: bool = False, check: bool = True,
            expected_fingerprint: str | None = None) -> NodeCheck: ...

    def update(self, node: Node, secret: str | None = None, accept_fingerprint: str | None = None) -> NodeCheck: ...

    def test(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False) -> NodeCheck: ...

    def remove(self, name: str) -> None: ...


class NodeImportApi(Protocol):
    """Importing many nodes from an inventory, all or nothing (engine/node_import.py)."""

    def plan(self, candidates: list[NodeCandidate], extra_tags: list[str] = ...,
             replace: bool = False) -> ImportPlan: ...

    def presented_keys(self, plan: ImportPlan) -> dict[str, tuple[str, str, str] | str]: ...

    def commit(self, plan: ImportPlan, confirmed: dict[str, str], presented: dict[str, tuple[str, str, str]],
               secret: str | None = None, check: bool = True) -> ImportResult: ...


class TransfersApi(Protocol):
    """Distribute and collect files (engine/transfers.py)."""

    def start(self, request: TransferRequest) -> Transfer: ...

    def wait(self, transfer_id: int, timeout: float | None = None) -> bool: ...

    def results(self, transfer_id: int) -> list[NodeTransferResult]: ...

    def cancel(self, transfer_id: int, node: str | None = None) -> None: ...

    def retry(self, transfer_id: int) -> Transfer: ...

    def browser(self, node_name: str) -> Any: ...


class AfterApi(Protocol):
    """Runs that start when another run ends (engine/after.py)."""

    def start_after(self, job_name: str, options: dict[str, str], trigger: Trigger, targets: str | None,
                    after_run_id: int, require_ok: bool = False, schedule_id: int | None = None) -> RunWait: ...

    def wait_started(self, wait_id: int, timeout: float | None = None) -> RunWait: ...

    def cancel(self, wait_id: int) -> bool: ...


class SchedulerApi(Protocol):
    """Whether this catalog's schedules fire here, and who else fires them."""

    @property
    def running(self) -> bool: ...

    def other_owner(self) -> tuple[str, int, bool | None] | None: ...


def allowed_calls() -> frozenset[str]:
    """The call paths a client may send: EngineApi's members and those of its parts."""
    return frozenset(call_members())


@cache
def call_members() -> dict[str, object]:
    """Each call path a client may send, with the Protocol member (function or property) it names."""
    def members(protocol) -> dict[str, object]:
        return {n: v for n, v in vars(protocol).items()
                if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    parts = {"nodes": NodesApi, "transfers": TransfersApi, "scheduler": SchedulerApi, "after": AfterApi,
             "node_import": NodeImportApi}
    local = set(parts) | {"close"}  # a client leaves with a Bye; it never closes the engine for the others
    calls = {name: member for name, member in members(EngineApi).items() if name not in local}
    for part, protocol in parts.items():
        calls.update({f"{part}.{name}": member for name, member in members(protocol).items()})
    return calls


@cache
def call_signature(path: str) -> inspect.Signature | None:
    """The parameters of the call ``path`` (without ``self``); None when it is not an API call."""
    member = call_members().get(path)
    if member is None:
        return None
    if isinstance(member, property):
        return inspect.Signature()
    signature = inspect.signature(cast(Callable[..., Any], member))
    return signature.replace(parameters=list(signature.parameters.values())[1:])


@runtime_checkable
class EngineApi(Protocol):
    data_dir: Path
    catalog: Catalog
    bus: EventBus

    @property
    def nodes(self) -> NodesApi: ...

    @property
    def node_import(self) -> NodeImportApi: ...

    @property
    def transfers(self) -> TransfersApi: ...

    @property
    def scheduler(self) -> SchedulerApi: ...

    @property
    def after(self) -> AfterApi: ...

    # ---- runs ----------------------------------------------------------------------------

    def start_job(self, job_name: str, options: dict[str, str] | None = None, trigger: Trigger = ...,
                  targets: str | None = None) -> Run: ...

    def start_command(self, command: str, targets: str, timeout_s: float | None = None,
                      trigger: Trigger = ...) -> Run: ...

    def start(self, job: Job, options: dict[str, str] | None = None, trigger: Trigger = ...,
              targets: str | None = None, extra: dict | None = None) -> Run: ...

    def rerun_failed(self, run_id: int) -> Run: ...

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        """True once the run has ended (False: still going after ``timeout`` seconds)."""

    def cancel(self, run_id: int, node_name: str | None = None) -> None:
        """Ask for a cancel and return at once; the run ends when its processes are gone."""

    def successor(self, run_id: int, timeout: float | None = 30.0) -> int | None:
        """The run that carries ``run_id`` on — its max-runtime restart — once that has
        started (waiting up to ``timeout`` while it is pending); None when there is none."""

    # ---- nodes and scheduling -----------------------------------------------------------

    def node_down(self, name: str) -> str | None:
        """Why placement keeps off the node now (it did not answer; a probe will tell when it
        is back), or None when it is up."""

    def add_node(self, node: Node, secret: str | None = None, accept_host_key: bool = False,
                 check: bool = True) -> NodeCheck: ...

    def test_node(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False) -> NodeCheck: ...

    def start_scheduler(self) -> None: ...

    def adopt_detached(self) -> list[int]: ...

    def close(self, cancel_running: bool = True, stop_engine: bool = False) -> None:
        """Let go of the engine. An in-process Engine stops (attached runs cancelled if
        ``cancel_running``); a client leaves the engine service, which stops only when
        ``stop_engine`` and no other process is connected."""
