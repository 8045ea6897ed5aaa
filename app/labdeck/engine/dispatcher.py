"""The dispatcher: fans a run out over its nodes on a worker pool and sees each node run to a
final status — max-parallel limit, steps in order, option substitution, per-attempt deadline,
retries, cancel (in-process or flagged in the catalog by another process), log files."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..core.errors import AuthenticationFailed, HostKeyChanged, HostKeyUnknown, LabDeckError, NodeUnreachable
from ..core.events import NodeRunFinished, NodeRunOutput, NodeRunStarted, RunFinished, RunStarted
from ..core.exit_codes import describe_exit
from ..core.models import Job, Node, NodeRun, Run, StepKind
from ..core.option_values import ValueFile, detached_overflow, split_values
from ..core.quoting import Shell, option_environment, shell_for_script, substitute
from ..core.status import RETRYABLE, KillState, NodeRunStatus, RunStatus, summarize_run
from ..core.targets import resolve_targets
from ..executors.base import RUN_TOKEN_ENV, CommandRequest, Deadline, Ending, LaunchLimits, ScriptFile
from ..executors.pool import ExecutorPool
from ..executors.registry import factory_of
from ..store.catalog import Catalog
from ..store.disk_space import is_disk_full
from ..store.identity import catalog_token, run_token
from ..store.logs import LogWriter
from .active_run import ActiveRun
from .bus import EventBus
from .detached import DetachedRunner, Outcome
from .heartbeat import Heartbeats
from .reattach import Reattacher, RunHooks
from .transfer_steps import TRANSFER_KINDS, run_transfer_step, run_transfers, split_around_work

log = logging.getLogger(__name__)
CANCEL_POLL_S = 0.25
LONG_COMMAND_BYTES = 32 * 1024
UNREACHABLE_POLL_S = 2.0


QUIT_NOTE = "cancelled because LabDeck quit (attached commands stop with it; detached ones go on)"


class _StopOnLogFailure:
    """Looks like the cancel event to an executor, and is also set when the log cannot be
    written (a full disk): the command is stopped rather than run on unrecorded."""

    def __init__(self, cancel: threading.Event, writer: LogWriter):
        self._cancel = cancel
        self._writer = writer

    def is_set(self) -> bool:
        return self._cancel.is_set() or self._writer.error is not None


class Dispatcher:
    def __init__(self, catalog: Catalog, pool: ExecutorPool, bus: EventBus, secret_for, max_workers: int = 256):
        self._catalog = catalog
        self._pool = pool
        self._bus = bus
        self._secret_for = secret_for
        self._workers = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="noderun")
        self._active: dict[int, ActiveRun] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.heartbeats = Heartbeats(catalog, bus, self._stopping)
        self.detached = DetachedRunner(catalog, pool, self.heartbeats)
        # Told when a node does not answer (node health marks it down); the engine sets it.
        self.on_unreachable: Callable[[str, str], object] = lambda node_name, message: None
        self.node_down: Callable[[str], str | None] = lambda node_name: None  # why a node is down (None: it is not)
        self._watcher = threading.Thread(target=self._watch_cancel_flags, daemon=True, name="cancel-watcher")
        self._watcher.start()
        self.reattacher = Reattacher(catalog, pool, bus, self.detached, self._workers, RunHooks(
            register=self._register, finish_node=self._finish_node, finish_run=self._finish_run,
            log_writer=self._log_writer, collect_after=self._collect_after))

    # ---- starting ----------------------------------------------------------------------

    def start(self, run: Run, job: Job, nodes: list[Node], node_runs: list[NodeRun],
              env: dict[str, str] | None = None) -> None:
        active = ActiveRun(run=run, job=job, nodes={n.name: n for n in nodes}, node_runs=node_runs,
                           remaining=len(node_runs), env=dict(env or {}))
        active.cancel_node = {nr.node_name: threading.Event() for nr in node_runs}
        if job.policy.max_parallel and job.policy.max_parallel < len(node_runs):
            active.slots = threading.Semaphore(job.policy.max_parallel)
        with self._lock:
            self._active[run.id] = active
        self._bus.publish(RunStarted(run.id, job.name, tuple(nr.node_name for nr in node_runs)))
        for nr in node_runs:
            self._workers.submit(self._node_task, active, nr)

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        with self._lock:
            active = self._active.get(run_id)
        return True if active is None else active.done.wait(timeout)

    def cancel(self, run_id: int, node_name: str | None = None, final: tuple[RunStatus, str] | None = None) -> bool:
        """Cancel a run this process is running; False if it is not running here. ``final``: the
        status and note the whole run ends with (instead of "cancelled")."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        if final is not None and node_name is None:
            active.final = final
        if node_name is None:
            active.cancel_all.set()
            for event in active.cancel_node.values():
                event.set()
        elif node_name in active.cancel_node:
            active.cancel_node[node_name].set()
        return True

    def adopt(self, run: Run) -> bool:
        """Follow on the detached node runs of a run whose LabDeck process is gone (see reconcile)."""
        return self.reattacher.adopt(run)

    def _register(self, active: ActiveRun) -> None:
        with self._lock:
            self._active[active.run.id] = active

    def active_run_ids(self) -> list[int]:
        with self._lock:
            return list(self._active)

    def active_runs(self) -> list[tuple[Run, Job]]:
        with self._lock:
            return [(a.run, a.job) for a in self._active.values()]

    def shutdown(self, cancel_running: bool = True) -> None:
        """Attached commands are cancelled (or left to end); detached ones go on without us."""
        self._stopping.set()
        self.detached.released.set()
        if cancel_running:
            for run_id in self.active_run_ids():
                self.cancel(run_id, final=(RunStatus.CANCELLED, QUIT_NOTE))
        self._workers.shutdown(wait=True, cancel_futures=False)

    # ---- one node run ------------------------------------------------------------------

    def _node_task(self, active: ActiveRun, nr: NodeRun) -> None:
        try:
            if active.slots is not None:
                while not active.slots.acquire(timeout=CANCEL_POLL_S):
                    if active.cancel_node[nr.node_name].is_set():
                        self._finish_node(active, nr, NodeRunStatus.CANCELLED, None, "cancelled before it started")
                        return
                try:
                    self._node_attempts(active, nr)
                finally:
                    active.slots.release()
            else:
                self._node_attempts(active, nr)
        except Exception as exc:  # never leave a node run hanging in "running"
            log.exception("node run %s crashed", nr.id)
            self._finish_node(active, nr, NodeRunStatus.ERROR, None, f"internal error: {exc}")

    def _node_attempts(self, active: ActiveRun, nr: NodeRun) -> None:
        node = active.nodes[nr.node_name]
        cancel = active.cancel_node[nr.node_name]
        policy = active.job.policy
        run_id = active.run.id
        writer = self._log_writer(run_id, node, nr)
        tried = [node.name]
        try:
            attempts = 1 + max(0, policy.retries)
            for attempt in range(1, attempts + 1):
                if cancel.is_set():
                    self._finish_node(active, nr, NodeRunStatus.CANCELLED, None, "cancelled", writer=writer)
                    return
                self._catalog.update_node_run(nr.id, status=NodeRunStatus.RUNNING, attempt=attempt,
                                              started_at=time.time() if attempt == 1 else None)
                self._bus.publish(NodeRunStarted(run_id, nr.id, node.name, attempt))
                if attempt > 1:
                    writer.note(f"attempt {attempt} of {attempts}")
                outcome = self._attempt(active, node, nr, writer, cancel)
                if outcome is None:
                    return  # released at shutdown: the detached command goes on, a later LabDeck re-attaches
                status, exit_code, message, kill_state = outcome
                if status is NodeRunStatus.UNREACHABLE:
                    self.on_unreachable(node.name, message)
                    if active.run.workflow_run_id is not None and policy.unreachable == "move":
                        # a task of an array or workflow: the run queue places it again on another node
                        self._finish_node(active, nr, status, exit_code, message, kill_state, writer)
                        return
                if status is NodeRunStatus.UNREACHABLE and policy.unreachable in ("wait", "move"):
                    node, outcome = self._unreachable(active, node, nr, writer, cancel, tried, outcome)
                    if outcome is None:
                        return  # released at shutdown while waiting: a later LabDeck re-attaches
                    status, exit_code, message, kill_state = outcome
                last = attempt == attempts or status not in RETRYABLE or cancel.is_set()
                if last:
                    self._finish_node(active, nr, status, exit_code, message, kill_state, writer)
                    return
                writer.note(f"attempt {attempt} ended {status}: {message}; retrying in {policy.retry_delay_s:g} s")
                if cancel.wait(policy.retry_delay_s):
                    self._finish_node(active, nr, NodeRunStatus.CANCELLED, None, "cancelled while waiting to retry",
                                      writer=writer)
                    return
                if policy.retry_on == "other":
                    node = self._move(active, node, nr, writer, cancel, tried) or node
        finally:
            writer.close()

    def _log_writer(self, run_id: int, node: Node, nr: NodeRun) -> LogWriter:
        secret = self._secret_for(node.credential_ref)
        return LogWriter(nr.log_path, encoding=node.encoding, secrets=[secret] if secret else [],
                         space=self._catalog.space,
                         on_text=lambda text: self._bus.publish(NodeRunOutput(run_id, nr.id, node.name, text)))

    def _unreachable(self, active: ActiveRun, node: Node, nr: NodeRun, writer: LogWriter, cancel: threading.Event,
                     tried: list[str], result: Outcome) -> tuple[Node, Outcome | None]:
        """The job's unreachable-node policy: wait for the node up to a limit, or move to another."""
        policy = active.job.policy
        if policy.unreachable == "move":
            other = self._move(active, node, nr, writer, cancel, tried)
            return (other, self._attempt(active, other, nr, writer, cancel)) if other else (node, result)
        writer.note(f"node {node.name} is unreachable; waiting up to {policy.unreachable_wait_s:g} s for it")
        end = time.monotonic() + policy.unreachable_wait_s
        while result[0] is NodeRunStatus.UNREACHABLE and time.monotonic() < end:
            if cancel.wait(min(UNREACHABLE_POLL_S, max(0.0, end - time.monotonic()))):
                return node, (NodeRunStatus.CANCELLED, None, "cancelled while waiting for the node", None)
            self._pool.forget(node.name)
            again = self._attempt(active, node, nr, writer, cancel)
            if again is None:
                return node, None
            result = again
        return node, result

    def _move(self, active: ActiveRun, node: Node, nr: NodeRun, writer: LogWriter, cancel: threading.Event,
              tried: list[str]) -> Node | None:
        """Another node matching the job's targets (nodes outside this run first), recorded on the node run."""
        try:
            candidates = resolve_targets(active.job.targets, self._catalog.list_nodes(), allow_empty=True)
        except LabDeckError:
            return None
        fresh = [n for n in candidates if n.name not in tried and not self.node_down(n.name)]
        fresh.sort(key=lambda n: n.name in active.nodes)
        if not fresh:
            writer.note(f"no other node matches '{active.job.targets}'; staying on {node.name}")
            return None
        other = fresh[0]
        tried.append(other.name)
        writer.note(f"moving from node {node.name} to node {other.name}")
        active.cancel_node.setdefault(other.name, cancel)
        nr.node_name = other.name
        self._catalog.update_node_run(nr.id, node_name=other.name)
        return other

    def _attempt(self, active: ActiveRun, node: Node, nr: NodeRun, writer: LogWriter,
                 cancel: threading.Event) -> tuple[NodeRunStatus, int | None, str, KillState | None] | None:
        """The node run's steps once; None when a detached command was left running at shutdown."""
        job, options = active.job, active.run.options
        deadline = Deadline.after(job.policy.timeout_s)
        token = run_token(self._catalog, nr.id)
        option_env, value_files = split_values(options)
        run_env = active.env | {"LABDECK_RUN_ID": str(active.run.id), "LABDECK_JOB": job.name,
                                "LABDECK_NODE": node.name, RUN_TOKEN_ENV: token}
        env = option_env | run_env
        stop = _StopOnLogFailure(cancel, writer)
        try:
            executor = self._pool.get(node)
            batch = factory_of(node).always_detached  # a batch scheduler's jobs: always one detached launch
            parts = split_around_work(job.steps) if job.policy.detached or batch else None
            if batch and parts is None:
                message = (f"node {node.name} runs a node run's steps as one batch job: put steps may only come "
                           "before the commands and get steps after them")
                writer.note(message)
                return NodeRunStatus.ERROR, None, message, None
            ops = self.detached.ops_for(executor) if parts else None
            if ops is not None and parts is not None:  # puts first, the work detached on the node, gets after
                too_large = detached_overflow(options)
                if too_large:
                    writer.note(too_large)
                    return NodeRunStatus.ERROR, None, too_large, None
                env = option_environment(options) | run_env  # a detached launcher carries every value itself
                before, work, after = parts
                failure = run_transfers(self._pool, node, before, options, deadline, stop, writer)
                if failure is not None:
                    return failure[0], None, failure[1], None
                steps = [ScriptFile(s.filename, substitute(s.script, options,
                                                           shell_for_script(s.filename, executor.shell)),
                                    node.python)
                         if s.kind is StepKind.SCRIPT else substitute(s.command, options, executor.shell)
                         for s in work]
                wants = job.plan.resources
                limits = LaunchLimits(wants.cpus, wants.memory_mb, wants.gpus, job.policy.timeout_s)
                outcome = self.detached.launch(ops, active.run.id, node, nr, writer, stop, steps, env,
                                               job.policy.timeout_s, CommandRequest().kill_grace_s, limits)
                return self._collect_after(outcome, node, after, options, deadline, stop, writer)
            # unique per catalog and node: two catalogs sharing a login never run each other's scripts
            run_tag = f"run-{active.run.id}-{node.name}-{catalog_token(self._catalog)}"
            uploads: list[str] = []  # files put in the run folder on the node
            try:
                return self._attached_steps(active, node, executor, run_tag, deadline, stop, writer, env, token,
                                            uploads, value_files)
            finally:
                if uploads:
                    _remove_run_folder(executor, run_tag)
        except NodeUnreachable as exc:
            writer.note(str(exc))
            return NodeRunStatus.UNREACHABLE, None, str(exc), None
        except (AuthenticationFailed, HostKeyUnknown, HostKeyChanged, LabDeckError) as exc:
            writer.note(str(exc))
            return NodeRunStatus.ERROR, None, str(exc), None

    def _attached_steps(self, active: ActiveRun, node: Node, executor, run_tag: str, deadline: Deadline, stop,
                        writer: LogWriter, env: dict[str, str], token: str, uploads: list[str],
                        value_files: list[ValueFile]):
        """The job's steps one after the other in this connection (the node run is attached)."""
        job, options = active.job, active.run.options
        in_files = frozenset(v.option for v in value_files)
        uploads += [v.filename for v in value_files]
        exit_code: int | None = None
        for index, step in enumerate(job.steps, 1):
            if step.kind in TRANSFER_KINDS:
                failure = run_transfer_step(self._pool, node, step, index, options, deadline, stop, writer)
                if failure is not None:
                    return failure[0], None, failure[1], None
                continue
            request = CommandRequest(env=env, value_files=value_files, run_tag=run_tag, run_token=token,
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
            result = executor.run(request, writer.write, deadline, stop)
            exit_code = result.exit_code
            if result.note:
                writer.note(result.note)
            if writer.error is not None:
                stopped = f"the command was stopped ({result.kill_state or 'it had ended'})"
                if is_disk_full(writer.error):
                    message = f"{self._catalog.space.message}: the log stops there and {stopped}; free space there"
                else:
                    message = (f"writing the log failed ({writer.error.strerror or writer.error}); {stopped}. "
                               f"Check {writer.path.parent}")
                return NodeRunStatus.ERROR, exit_code, message, result.kill_state
            if result.ending is not Ending.EXITED:
                verb = "timed out" if result.ending is Ending.TIMED_OUT else "cancelled"
                state = result.kill_state or KillState.KILL_UNCONFIRMED
                detail = {KillState.KILLED: "process tree killed",
                          KillState.KILL_UNCONFIRMED: "kill unconfirmed"}[state]
                limit = f" after {job.policy.timeout_s:g} s" if result.ending is Ending.TIMED_OUT else ""
                if result.leftovers:
                    detail += (f", with {result.leftovers} process{'es' if result.leftovers > 1 else ''} that had "
                               "left its process group (found by the run token)")
                if state is KillState.KILL_UNCONFIRMED and result.survivors:
                    detail += f"; still running: {', '.join(result.survivors)}"
                message = f"step {index} {verb}{limit}; {detail}"
                writer.note(message)
                status = NodeRunStatus.TIMED_OUT if result.ending is Ending.TIMED_OUT else NodeRunStatus.CANCELLED
                return status, None, message, state
            if exit_code != 0:
                meaning = describe_exit(exit_code, node.os_family)
                return NodeRunStatus.FAILED, exit_code, f"step {index} {meaning}", None
        self._catalog.mark_node_seen(node.name)
        return NodeRunStatus.SUCCEEDED, exit_code, "", None

    def _collect_after(self, outcome, node: Node, after, options: dict[str, str], deadline: Deadline, stop,
                       writer: LogWriter):
        """A detached run's closing transfer steps (its results), run once its work succeeded."""
        if outcome is None or outcome[0] is not NodeRunStatus.SUCCEEDED or not after:
            return outcome
        failure = run_transfers(self._pool, node, after, options, deadline, stop, writer)
        return outcome if failure is None else (failure[0], outcome[1], failure[1], None)

    def _finish_node(self, active: ActiveRun, nr: NodeRun, status: NodeRunStatus, exit_code: int | None,
                     message: str, kill_state: KillState | None = None, writer: LogWriter | None = None) -> None:
        with self._lock:  # once only, even if a crash handler tries again after the real outcome
            if nr.id in active.finished:
                return
            active.finished.add(nr.id)
        try:
            self._catalog.update_node_run(nr.id, status=status, exit_code=exit_code, finished_at=time.time(),
                                          message=message, kill_state=kill_state)
        except LabDeckError as exc:  # a full disk: the run still ends here; the next start reconciles it
            log.error("node run %s ended %s but could not be recorded: %s", nr.id, status, exc)
        self._bus.publish(NodeRunFinished(active.run.id, nr.id, nr.node_name, status, exit_code, message))
        with self._lock:
            active.remaining -= 1
            last = active.remaining == 0
        if last:
            self._finish_run(active)

    def _finish_run(self, active: ActiveRun) -> None:
        statuses = [nr.status for nr in self._catalog.node_runs(active.run.id)]
        flagged = active.cancel_all.is_set() or self._catalog.get_run(active.run.id).cancel_requested
        status, note = summarize_run(statuses, flagged), None
        if active.final is not None:
            status, note = active.final
        try:
            self._catalog.finish_run(active.run.id, status, note)
        except LabDeckError as exc:
            log.error("run %s ended %s but could not be recorded: %s", active.run.id, status, exc)
        with self._lock:
            self._active.pop(active.run.id, None)
        self._bus.publish(RunFinished(active.run.id, active.job.name, status))
        active.done.set()

    # ---- cancel flags from other processes ---------------------------------------------

    def _watch_cancel_flags(self) -> None:
        while not self._stopping.wait(CANCEL_POLL_S):
            run_ids = self.active_run_ids()
            if not run_ids:
                continue
            try:
                flags = self._catalog.cancel_flags(run_ids)
            except Exception:
                log.exception("reading cancel flags failed")
                continue
            for run_id, (whole, nodes) in flags.items():
                if whole:
                    self.cancel(run_id)
                for node_name in nodes:
                    self.cancel(run_id, node_name)


def _remove_run_folder(executor, run_tag: str) -> None:
    """A finished attached node run's script folder goes (best effort: an unreachable node keeps it,
    and the detached clean-up of old run folders removes it later)."""
    try:
        executor.remove_run_folder(run_tag)
    except Exception as exc:  # noqa: BLE001 - never turns a finished run into a failed one
        log.info("could not remove the run folder %s: %s", run_tag, exc)
