"""One attempt of an attached node run: the job's steps one after the other over the node's
connection (commands, scripts and transfer steps), ending at the first that does not succeed.
The dispatcher decides retries and records the outcome; this only runs the steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..core.exit_codes import describe_exit
from ..core.models import Node, StepKind
from ..core.option_values import ValueFile
from ..core.quoting import Shell, shell_for_script, substitute
from ..core.status import KillState, NodeRunStatus
from ..executors.base import CommandRequest, Deadline, Ending, Executor, ScriptFile
from ..executors.pool import ExecutorPool
from ..store.catalog import Catalog
from ..store.disk_space import is_disk_full
from ..store.logs import LogWriter
from .active_run import ActiveRun
from .outcome import Outcome
from .transfer_steps import TRANSFER_KINDS, run_transfer_step

log = logging.getLogger(__name__)
LONG_COMMAND_BYTES = 32 * 1024


@dataclass
class AttachedContext:
    """What one attempt needs: the run, the node and its executor, and the attempt's limits."""
    catalog: Catalog
    pool: ExecutorPool
    active: ActiveRun
    node: Node
    executor: Executor
    run_tag: str  # the node's run folder for script files
    deadline: Deadline
    stop: Any  # is_set(): cancelled, or the log can no longer be written
    writer: LogWriter
    env: dict[str, str]
    token: str
    value_files: list[ValueFile] = field(default_factory=list)  # option values too large for env


def run_attached_steps(ctx: AttachedContext, uploads: list[str]) -> Outcome:
    """The job's steps in order; ``uploads`` collects the script files put in the run folder."""
    job, options, node, executor, writer = ctx.active.job, ctx.active.run.options, ctx.node, ctx.executor, ctx.writer
    exit_code: int | None = None
    in_files = frozenset(v.option for v in ctx.value_files)
    uploads += [v.filename for v in ctx.value_files]
    for index, step in enumerate(job.steps, 1):
        if step.kind in TRANSFER_KINDS:
            failure = run_transfer_step(ctx.pool, node, step, index, options, ctx.deadline, ctx.stop, writer)
            if failure is not None:
                return failure
            continue
        request = CommandRequest(env=ctx.env, value_files=ctx.value_files, run_tag=ctx.run_tag, run_token=ctx.token,
                                 keep_background=job.policy.background == "keep")
        if step.kind is StepKind.SCRIPT:
            shell = shell_for_script(step.filename, executor.shell)
            request.script = ScriptFile(step.filename, substitute(step.script, options, shell, in_files),
                                        node.python)
        else:
            request.command = substitute(step.command, options, executor.shell, in_files)
            if executor.shell is Shell.SH and len(request.command.encode()) > LONG_COMMAND_BYTES:
                # too long for one exec request or argv string (SSH packets, Linux's 128 KiB
                # per argument): it travels as a script file, as script steps do
                request.script, request.command = ScriptFile(f"command-{index}.sh", request.command), ""
        if request.script is not None:
            uploads.append(request.script.filename)
        result = executor.run(request, writer.write, ctx.deadline, ctx.stop)
        exit_code = result.exit_code
        if result.note:
            writer.note(result.note)
        if writer.error is not None:
            return _log_failed(ctx, exit_code, result.kill_state)
        if result.ending is not Ending.EXITED:
            return _stopped(ctx, index, result)
        if exit_code != 0:
            meaning = describe_exit(exit_code, node.os_family) if exit_code is not None else "ended without exit code"
            return Outcome(NodeRunStatus.FAILED, exit_code, f"step {index} {meaning}")
    ctx.catalog.mark_node_seen(node.name)
    return Outcome(NodeRunStatus.SUCCEEDED, exit_code)


def _log_failed(ctx: AttachedContext, exit_code: int | None, kill_state: KillState | None) -> Outcome:
    """The log could not be written (a full disk): the command was stopped rather than run on unrecorded."""
    error = ctx.writer.error
    assert error is not None
    stopped = f"the command was stopped ({kill_state or 'it had ended'})"
    if is_disk_full(error):
        message = f"{ctx.catalog.space.message}: the log stops there and {stopped}; free space there"
    else:
        message = f"writing the log failed ({error.strerror or error}); {stopped}. Check {ctx.writer.path.parent}"
    return Outcome(NodeRunStatus.ERROR, exit_code, message, kill_state)


def _stopped(ctx: AttachedContext, index: int, result) -> Outcome:
    """The step was timed out or cancelled: say how far the kill got."""
    timed_out = result.ending is Ending.TIMED_OUT
    state = result.kill_state or KillState.KILL_UNCONFIRMED
    detail = {KillState.KILLED: "process tree killed", KillState.KILL_UNCONFIRMED: "kill unconfirmed"}[state]
    limit = f" after {ctx.active.job.policy.timeout_s:g} s" if timed_out else ""
    if result.leftovers:
        detail += (f", with {result.leftovers} process{'es' if result.leftovers > 1 else ''} that had "
                   "left its process group (found by the run token)")
    if state is KillState.KILL_UNCONFIRMED and result.survivors:
        detail += f"; still running: {', '.join(result.survivors)}"
    message = f"step {index} {'timed out' if timed_out else 'cancelled'}{limit}; {detail}"
    ctx.writer.note(message)
    return Outcome(NodeRunStatus.TIMED_OUT if timed_out else NodeRunStatus.CANCELLED, None, message, state)


def remove_run_folder(executor, run_tag: str) -> None:
    """A finished attached node run's script folder goes (best effort: an unreachable node keeps it,
    and the detached clean-up of old run folders removes it later)."""
    try:
        executor.remove_run_folder(run_tag)
    except Exception as exc:  # noqa: BLE001 - never turns a finished run into a failed one
        log.info("could not remove the run folder %s: %s", run_tag, exc)
