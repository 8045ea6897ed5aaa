"""Typed events the engine publishes; the GUI bridge and the CLI subscribe to them."""

from __future__ import annotations

from dataclasses import dataclass

from .status import NodeRunStatus, RunStatus
from .transfers import TransferFinished, TransferNodeFinished, TransferProgress, TransferQueued


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    job_name: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class NodeRunStarted:
    run_id: int
    node_run_id: int
    node: str
    attempt: int


@dataclass(frozen=True)
class NodeRunOutput:
    run_id: int
    node_run_id: int
    node: str
    text: str


@dataclass(frozen=True)
class NodeRunFinished:
    run_id: int
    node_run_id: int
    node: str
    status: NodeRunStatus
    exit_code: int | None
    message: str


@dataclass(frozen=True)
class NodeRunStateChanged:
    """A node run that is not over changed state: its node stopped answering (node_lost), or
    answered again (running), a batch scheduler queued it (queued, with the reason) or started
    it (running), or a new LabDeck process re-attached to it."""
    run_id: int
    node_run_id: int
    node: str
    status: NodeRunStatus
    message: str


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    job_name: str
    status: RunStatus


@dataclass(frozen=True)
class NodeSeen:
    """A node answered (or did not) a connection or probe."""
    node: str
    reachable: bool
    message: str = ""


@dataclass(frozen=True)
class Notification:
    """Something the user asked to be told about (the tray shows it; webhooks and email deliver it).
    kind: "failed", "succeeded", "missed" or "exceeded" (longer than the expected duration)."""
    kind: str
    job_name: str
    run_id: int | None
    status: str
    text: str
    failing_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanProgress:
    """A workflow or array run moved on: its tasks so far ("734 / 1000 done, 3 failed")."""
    run_id: int
    total: int
    done: int
    failed: int
    running: int


@dataclass(frozen=True)
class StepChanged:
    """A workflow step changed state: waiting, running, succeeded, failed, skipped, cancelled."""
    run_id: int
    step: str
    state: str
    message: str = ""


@dataclass(frozen=True)
class QueueChanged:
    """The run queue's order or reasons changed."""


Event = (RunStarted | NodeRunStarted | NodeRunOutput | NodeRunStateChanged | NodeRunFinished | RunFinished | NodeSeen
         | Notification | PlanProgress | StepChanged | QueueChanged
         | TransferQueued | TransferProgress | TransferNodeFinished | TransferFinished)  # transfers: core/transfers.py
