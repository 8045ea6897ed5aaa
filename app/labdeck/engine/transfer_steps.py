"""Job steps that move files (``put`` before the work, ``get`` after it): run through the same
transfer engine as ``labdeck put``/``get``, recorded in the node run's log, stopped by the
node run's deadline and cancel like any other step."""

from __future__ import annotations

import threading

from ..core.models import Node, Step, StepKind
from ..core.status import NodeRunStatus
from ..core.transfers import Direction, substitute_path
from ..executors.base import Deadline
from ..executors.pool import ExecutorPool
from ..executors.transfer_backends import backend_for
from ..store.logs import LogWriter
from .outcome import Outcome
from .transfer_node import NodeProgress
from .transfers import TransferRequest, node_transfer

TRANSFER_KINDS = (StepKind.PUT, StepKind.GET)


class _StopWhen:
    """Looks like a cancel event to a transfer; also set by the node run's deadline."""

    def __init__(self, stop, deadline: Deadline):
        self._stop = stop
        self._deadline = deadline

    def is_set(self) -> bool:
        return self._stop.is_set() or self._deadline.expired()


def check_transfer_step(step: Step, options: dict[str, str]) -> None:
    """An unknown ${option.X} in a step's paths is an error before anything runs."""
    for text in (step.source, step.destination):
        substitute_path(text, "node", options)


def run_transfer_step(pool: ExecutorPool, node: Node, step: Step, index: int, options: dict[str, str],
                      deadline: Deadline, stop: threading.Event, writer: LogWriter
                      ) -> Outcome | None:
    """None when the files moved; else how the node run ends."""
    request = TransferRequest(Direction(str(step.kind)), [step.source], step.destination, node.name,
                              options=options)
    where = f"{request.sources[0]} -> {request.destination}"
    writer.note(f"step {index}: {step.kind} {substitute_path(where, node.name, options)}")
    result = node_transfer(backend_for(pool, node), request, node.name, NodeProgress(node.name),
                           _StopWhen(stop, deadline))  # type: ignore[arg-type]  # transfers only call is_set()
    for f in result.files:
        writer.note(f"  {f.outcome} {f.remote} ({f.size} bytes{', sha256 ' + f.sha256 if f.sha256 else ''})")
    if result.renamed:
        writer.note(f"  {result.renamed_text()}")
    if result.ok:
        return None
    message = f"step {index} ({step.kind}) failed: {result.error}"
    writer.note(message)
    if result.unreachable:
        return Outcome(NodeRunStatus.UNREACHABLE, None, message)
    if result.cancelled:
        if deadline.expired():
            return Outcome(NodeRunStatus.TIMED_OUT, None, f"step {index} ({step.kind}) timed out")
        return Outcome(NodeRunStatus.CANCELLED, None, f"step {index} ({step.kind}) cancelled")
    return Outcome(NodeRunStatus.FAILED, None, message)


Numbered = list[tuple[int, Step]]


def split_around_work(steps: list[Step]) -> tuple[Numbered, list[Step], Numbered] | None:
    """A detached job's steps: (transfers before the work, the work, transfers after it), with
    their step numbers. None when a transfer stands between two work steps (that job runs
    attached: LabDeck must move the files in the middle)."""
    numbered = list(enumerate(steps, 1))
    work = [i for i, s in numbered if s.kind not in TRANSFER_KINDS]
    if not work or any(s.kind in TRANSFER_KINDS for i, s in numbered if work[0] < i < work[-1]):
        return None
    before = [(i, s) for i, s in numbered if i < work[0]]
    after = [(i, s) for i, s in numbered if i > work[-1]]
    return before, [s for i, s in numbered if work[0] <= i <= work[-1]], after


def run_transfers(pool: ExecutorPool, node: Node, steps: Numbered, options: dict[str, str], deadline: Deadline,
                  stop, writer: LogWriter) -> Outcome | None:
    """Each transfer step in order; the first failure's outcome, or None."""
    for index, step in steps:
        failure = run_transfer_step(pool, node, step, index, options, deadline, stop, writer)
        if failure is not None:
            return failure
    return None
