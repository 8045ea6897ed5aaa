"""The dispatcher: fans a run out over its nodes on a worker pool and sees each node run to a
final status — max-parallel limit, steps in order, option substitution, per-attempt deadline,
retries, cancel (in-process or flagged in the catalog by another process), log files."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ..core.errors import AuthenticationFailed, HostKeyChanged, HostKeyUnknown, LabDeckError, NodeUnreachable
from ..core.events import NodeRunFinished, NodeRunOutput, NodeRunStarted, RunFinished, RunStarted
from ..core.models import Job, Node, NodeRun, Run
from ..core.option_values import split_values
from ..core.status import RETRYABLE, KillState, NodeRunStatus, RunStatus, summarize_run
from ..core.targets import resolve_targets
from ..executors.base import RUN_TOKEN_ENV, CommandRequest, Deadline, LaunchLimits
from ..executors.pool import ExecutorPool
from ..executors.registry import factory_of
from ..store.attempts import attempt_ended, attempt_started
from ..store.catalog import Catalog
from ..store.identity import catalog_token, run_token
from ..store.logs import LogWriter
from .active_run import ActiveRun
from .attached_steps import AttachedContext, remove_run_folder, run_attached_steps
from .bus import EventBus
from .detached import DetachedRunner
from .detached_work import detached_work
from .heartbeat import Heartbeats
from .outcome import Outcome
from .reattach import Reattacher, RunHooks
from .transfer_steps import run_transfers, split_around_work

log = logging.getLogger(__name__)
CANCEL_POLL_S = 0.25
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
                began = time.time()
                self._catalog.update_node_run(nr.id, status=NodeRunStatus.RUNNING, attempt=attempt,
                                              started_at=began if attempt == 1 else None)
                if attempts > 1:   # the timeline draws each attempt of a job with retries
                    attempt_started(self._catalog, nr.id, attempt, began)
                self._bus.publish(NodeRunStarted(run_id, nr.id, node.name, attempt))
                if attempt > 1:
                    writer.note(f"attempt {attempt} of {attempts}")
                outcome = self._attempt(active, node, nr, writer, cancel)
                if outcome is None:
                    return  # released at shutdown: the detached command goes on, a later LabDeck re-attaches
                if outcome.status is NodeRunStatus.UNREACHABLE:
                    self.on_unreachable(node.name, outcome.message)
                    if active.run.workflow_run_id is not None and policy.unreachable == "move":
                        # a task of an array or workflow: the run queue places it again on another node
                        self._finish_outcome(active, nr, outcome, writer)
                        return
                if outcome.status is NodeRunStatus.UNREACHABLE and policy.unreachable in ("wait", "move"):
                    node, outcome = self._unreachable(active, node, nr, writer, cancel, tried, outcome)
                    if outcome is None:
                        return  # released at shutdown while waiting: a later LabDeck re-attaches
                last = attempt == attempts or outcome.status not in RETRYABLE or cancel.is_set()
                if last:
                    self._finish_outcome(active, nr, outcome, writer)
                    return
                attempt_ended(self._catalog, nr.id, attempt, time.time(), str(outcome.status))
                writer.note(f"attempt {attempt} ended {outcome.status}: {outcome.message}; "
                            f"retrying in {policy.retry_delay_s:g} s")
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
        while result.status is NodeRunStatus.UNREACHABLE and time.monotonic() < end:
            if cancel.wait(min(UNREACHABLE_POLL_S, max(0.0, end - time.monotonic()))):
                return node, Outcome(NodeRunStatus.CANCELLED, None, "cancelled while waiting for the node")
            # the pooled executor is reused (its connection reconnects by itself): forgetting it
            # here cut the commands other items had just started on it when the node came back
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
                 cancel: threading.Event) -> Outcome | None:
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
                return Outcome(NodeRunStatus.ERROR, None, message)
            ops = self.detached.ops_for(executor) if parts else None
            if ops is not None and parts is not None:  # puts first, the work detached on the node, gets after
                # a value too large for this node's launcher: InvalidInput, an error below
                detached = detached_work(ops, executor.shell, node, parts[1], options)
                before, _work, after = parts
                failure = run_transfers(self._pool, node, before, options, deadline, stop, writer)
                if failure is not None:
                    return failure
                wants = job.plan.resources
                limits = LaunchLimits(wants.cpus, wants.memory_mb, wants.gpus, job.policy.timeout_s)
                outcome = self.detached.launch(ops, active.run.id, node, nr, writer, stop, detached.steps,
                                               detached.option_env | run_env, job.policy.timeout_s,
                                               CommandRequest().kill_grace_s, limits, detached.value_files)
                return self._collect_after(outcome, node, after, options, deadline, stop, writer)
            # unique per catalog and node: two catalogs sharing a login never run each other's scripts
            run_tag = f"run-{active.run.id}-{node.name}-{catalog_token(self._catalog)}"
            uploads: list[str] = []  # files put in the run folder on the node
            try:
                return run_attached_steps(AttachedContext(self._catalog, self._pool, active, node, executor, run_tag,
                                                          deadline, stop, writer, env, token, value_files), uploads)
            finally:
                if uploads:
                    remove_run_folder(executor, run_tag)
        except NodeUnreachable as exc:
            writer.note(str(exc))
            return Outcome(NodeRunStatus.UNREACHABLE, None, str(exc))
        except (AuthenticationFailed, HostKeyUnknown, HostKeyChanged, LabDeckError) as exc:
            writer.note(str(exc))
            return Outcome(NodeRunStatus.ERROR, None, str(exc))

    def _collect_after(self, outcome: Outcome | None, node: Node, after, options: dict[str, str], deadline: Deadline,
                       stop, writer: LogWriter) -> Outcome | None:
        """A detached run's closing transfer steps (its results), run once its work succeeded."""
        if outcome is None or outcome.status is not NodeRunStatus.SUCCEEDED or not after:
            return outcome
        failure = run_transfers(self._pool, node, after, options, deadline, stop, writer)
        return outcome if failure is None else replace(failure, exit_code=outcome.exit_code)

    def _finish_outcome(self, active: ActiveRun, nr: NodeRun, outcome: Outcome, writer: LogWriter) -> None:
        self._finish_node(active, nr, outcome.status, outcome.exit_code, outcome.message, outcome.kill_state, writer)

    def _finish_node(self, active: ActiveRun, nr: NodeRun, status: NodeRunStatus, exit_code: int | None,
                     message: str, kill_state: KillState | None = None, writer: LogWriter | None = None) -> None:
        with self._lock:  # once only, even if a crash handler tries again after the real outcome
            if nr.id in active.finished:
                return
            active.finished.add(nr.id)
        if writer is not None:
            writer.close()  # the log's last partial line is in the file before anyone hears the run ended
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

