"""The dispatcher's bookkeeping for one run in progress in this process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..core.models import Job, Node, NodeRun, Run
from ..core.status import RunStatus


@dataclass
class ActiveRun:
    run: Run
    job: Job
    nodes: dict[str, Node]
    node_runs: list[NodeRun]
    cancel_all: threading.Event = field(default_factory=threading.Event)
    cancel_node: dict[str, threading.Event] = field(default_factory=dict)
    remaining: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    slots: threading.Semaphore | None = None
    final: tuple[RunStatus, str] | None = None  # set by a rule that ends the run (max runtime)
    finished: set[int] = field(default_factory=set)  # node run ids already given a final status
    env: dict[str, str] = field(default_factory=dict)  # extra environment (a workflow or array task's)
