"""The Engine: one object that owns the catalog, the executor pool, the dispatcher and the
event bus for a data folder. It is the catalog's one authority: it holds the catalog's engine
lock (store/engine_files.py) for its life, so a second Engine on the same catalog is refused;
every other LabDeck process reaches it through the engine service (engine/service.py)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import InvalidInput, LabDeckError
from ..core.job_refs import child_options, referenced
from ..core.models import Job, Node, Run, Step, StepKind, Trigger
from ..core.quoting import Shell, check_option_name, check_option_total, check_option_value, substitute
from ..core.targets import resolve_targets
from ..executors.pool import ExecutorPool
from ..store import engine_files, paths, run_queue, run_waits, secrets
from ..store.catalog import Catalog
from ..store.disk_space import DiskFull
from ..store.jobfile import check_job
from .adopted_arrays import AdoptedArrays
from .after import AfterRuns
from .bus import EventBus
from .dispatcher import Dispatcher
from .health import NodeHealth
from .hostkeys import CatalogHostKeys
from .job_refs import JobRefRuns
from .leftovers import kill_interrupted_leftovers
from .node_import import NodeImporter
from .nodes import NodeManager
from .notify import Notifier
from .plan_start import rebuild, start_planned
from .plan_start import rerun_failed as rerun_planned
from .reconcile import reconcile_orphans
from .rules import RuleWatcher
from .run_queue import RunQueue
from .scheduler import Scheduler
from .seed import seed_first_start
from .tasks import NodeFiles
from .transfer_steps import check_transfer_step
from .transfers import TransferManager

log = logging.getLogger(__name__)
ADHOC_JOB = "(ad-hoc)"
LEFTOVERS_WAIT_S = 20.0  # a start waits this long at most for unreachable nodes' leftovers


class CatalogOwned(LabDeckError):
    """Another process's engine owns this catalog."""


class Engine:
    def __init__(self, data_dir: str | Path | None = None, seed: bool = True, schedule: bool = False,
                 miss_grace_s: float = 5.0, clock: Clock = SYSTEM_CLOCK):
        """``schedule``: start the scheduler now (else ``start_scheduler()`` later, or never:
        the CLI's one-shot commands only edit schedules, a daemon or the app fires them).
        ``clock``: what the scheduler reads the time from and sleeps on (a test's moves by hand)."""
        self.data_dir = paths.resolve_data_dir(data_dir)
        self._lock = engine_files.try_lock(self.data_dir)
        if self._lock is None:
            owner = engine_files.read_address(self.data_dir)
            raise CatalogOwned(f"another LabDeck process{f' (pid {owner.pid})' if owner else ''} runs the engine of "
                               f"{self.data_dir}; use it (the app, or labdeck commands, connect to it by themselves)")
        self.catalog = Catalog(paths.catalog_path(self.data_dir))
        self.bus = EventBus()
        self.pool = ExecutorPool(paths.work_dir(self.data_dir), secrets.get_secret,
                                 CatalogHostKeys(self.catalog).check, self.catalog.get_node)
        self.dispatcher = Dispatcher(self.catalog, self.pool, self.bus, secrets.get_secret)
        self.nodes = NodeManager(self.catalog, self.pool, self.bus)
        self.node_import = NodeImporter(self.catalog, self.nodes)
        self.transfers = TransferManager(self.catalog, self.pool, self.bus)
        self.health = NodeHealth(self.catalog, self.pool, self.bus, on_change=lambda: self.queue.wake())
        self.dispatcher.on_unreachable = self.health.mark_down
        self.dispatcher.node_down = self.health.down
        self.queue = RunQueue(self)  # workflows, arrays, runs that wait for room
        self.job_refs = JobRefRuns(self)  # runs of jobs whose steps run other jobs
        self.after = AfterRuns(self)  # runs that start when another run ends (run --after)
        self.adopted_arrays = AdoptedArrays(self)  # array runs carried on by their re-attached tasks
        self.queue_files = NodeFiles(self)
        self.notifier = Notifier(self.catalog, self.bus)
        self.rules = RuleWatcher(self)
        self.scheduler = Scheduler(self, miss_grace_s=miss_grace_s, clock=clock)
        self._closed = threading.Event()
        self._taken_over = False
        try:
            if seed:
                seed_first_start(self.catalog)
            self.nodes.migrate_secret_refs()
            interrupted: list = []
            reconcile_orphans(self.catalog, set(), interrupted=interrupted)
            kill_interrupted_leftovers(self.catalog, self.pool, interrupted, wait_s=LEFTOVERS_WAIT_S)
        except DiskFull as exc:  # reading (runs, logs, node list) still works; the next start catches up
            log.warning("%s", exc)
        self.health.start()
        if schedule:
            self.start_scheduler()

    def start_scheduler(self) -> None:
        """Build the scheduler from the catalog and start it (missed fires are recorded first),
        after taking over what earlier engines left (``take_over``)."""
        self.take_over()
        self.scheduler.start()

    def take_over(self) -> None:
        """Once, as the catalog's owner: re-attach to detached runs of engines that are gone,
        take up the queued runs they left, and resume their interrupted arrays and workflows."""
        if self._taken_over:
            return
        self._taken_over = True
        from .recovery import resume_interrupted
        for step in (self.adopt_detached, self.after.adopt_orphans,
                     lambda: self.queue.resume(lambda run: rebuild(self, run)), lambda: resume_interrupted(self)):
            try:
                step()
            except Exception:  # one bad old run must not keep the catalog's engine from serving
                log.exception("taking over what an earlier engine left failed in part")

    def busy(self) -> bool:
        """Runs, queued work, a pending restart or a transfer in this engine."""
        return bool(self.dispatcher.active_run_ids() or self.queue.pending() or self.rules.pending()
                    or self.job_refs.active_ids() or run_waits.waiting(self.catalog)
                    or any(not t.done.is_set() for t in self.transfers.list()))

    def successor(self, run_id: int, timeout: float | None = 30.0) -> int | None:
        """The run that carries this one on (its max-runtime restart), once it has started;
        None when there is none."""
        return self.rules.successor(run_id, timeout)

    def adopt_detached(self) -> list[int]:
        """Re-attach to the detached runs of LabDeck processes that are gone; their run ids."""
        adopted: list[int] = []
        interrupted: list = []

        def adopt(run) -> None:
            if self.dispatcher.adopt(run):
                adopted.append(run.id)

        here = set(self.dispatcher.active_run_ids()) | self.job_refs.active_ids() | self.adopted_arrays.held_ids()
        reconcile_orphans(self.catalog, here, adopt=adopt, interrupted=interrupted,
                          adopt_array=self.adopted_arrays.adopt)
        if interrupted:  # their commands may still run on the nodes
            threading.Thread(target=kill_interrupted_leftovers, args=(self.catalog, self.pool, interrupted),
                             daemon=True, name="orphan-leftovers").start()
        return adopted

    # ---- runs --------------------------------------------------------------------------

    def start_job(self, job_name: str, options: dict[str, str] | None = None, trigger: Trigger = Trigger.MANUAL,
                  targets: str | None = None) -> Run:
        return self.start(self.catalog.get_job(job_name), options, trigger, targets)

    def start_command(self, command: str, targets: str, timeout_s: float | None = None,
                      trigger: Trigger = Trigger.CLI) -> Run:
        from ..core.models import JobPolicy
        if not command.strip():
            raise InvalidInput("the command is empty: give the command to run after --")
        job = Job(name=ADHOC_JOB, steps=[Step(command=command)], targets=targets, policy=JobPolicy(timeout_s=timeout_s))
        return self.start(job, {}, trigger)

    def start(self, job: Job, options: dict[str, str] | None = None, trigger: Trigger = Trigger.MANUAL,
              targets: str | None = None, extra: dict | None = None) -> Run:
        """Validate everything first, then record the run and hand it to the dispatcher.
        ``extra``: run fields the scheduler and rules set (schedule_id, scheduled_for, note, ...)."""
        try:  # a job stored before the schema checked it may hold a value no run can use
            check_job(job)
        except InvalidInput as exc:
            raise InvalidInput(f"{exc} (correct it: labdeck job export {job.name} > job.yaml, edit, "
                               "labdeck job import job.yaml --replace)") from None
        values = resolve_options(job, options or {})
        for step in job.steps:  # an unknown ${option.X} is an error before anything runs
            substitute(step.command or step.script, values, Shell.SH)
            check_transfer_step(step, values)
        spec = job.targets if targets is None else targets  # "" is a mistake, not "the job's own"
        if referenced(job):  # steps that run other jobs: a parent run of child runs (job_refs.py)
            for step in job.steps:
                if step.kind is StepKind.JOB:
                    child_options(values, step.options, f"job '{job.name}', step job {step.job}")
            return self.job_refs.start(job, values, trigger, spec, extra)
        if not job.plan.is_classic():
            return start_planned(self, job, values, trigger, spec, extra)
        nodes = resolve_targets(spec, self.catalog.list_nodes())
        logs = paths.logs_dir(self.data_dir)
        run, node_runs = self.catalog.create_run(
            job.name, job.id, trigger, values, spec, [n.name for n in nodes],
            lambda run_id, node: logs / str(run_id) / f"{node}.log", extra)
        self.dispatcher.start(run, job, nodes, node_runs)
        return run

    def rerun_failed(self, run_id: int) -> Run:
        """A new run of the same job and options on the nodes that did not succeed (an array:
        its items that did not succeed; a workflow: all of it again)."""
        if run_queue.is_planned(self.catalog, run_id):
            return rerun_planned(self, run_id)
        run = self.catalog.get_run(run_id)
        failed = [nr.node_name for nr in self.catalog.node_runs(run_id) if nr.status != "succeeded"]
        if not failed:
            raise InvalidInput(f"every node of run {run_id} succeeded; nothing to re-run")
        down = [why for name in failed if (why := self.health.down(name))]
        if len(down) == len(failed):  # never re-run on a node that is down
            raise InvalidInput(f"run {run_id}: the nodes that did not succeed are down ({'; '.join(down)}); "
                               f"wait for them to answer, or: labdeck node test NAME")
        failed = [name for name in failed if not self.health.down(name)]
        return self.start_job(run.job_name, run.options, Trigger.MANUAL, targets=",".join(failed))

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        if self.job_refs.has(run_id):
            return self.job_refs.wait(run_id, timeout)
        if self.queue.has(run_id):
            return self.queue.wait(run_id, timeout)
        if self.adopted_arrays.has(run_id):
            return self.adopted_arrays.wait(run_id, timeout)
        return self.dispatcher.wait(run_id, timeout)

    def cancel(self, run_id: int, node_name: str | None = None) -> None:
        """Cancel here if this process runs it, and flag it in the catalog for any other process."""
        self.catalog.request_cancel(run_id, node_name)
        if node_name is None and self.job_refs.cancel(run_id):
            return
        if self.dispatcher.cancel(run_id, node_name):
            return
        if node_name is None and self.queue.cancel(run_id):  # a workflow, array or queued run
            return
        if node_name is None and self.adopted_arrays.cancel(run_id):
            return
        # Detached node runs of a LabDeck process that is gone: re-attach here to kill them
        # (in the background: a cancel returns at once).
        def adopt_and_cancel() -> None:
            if run_id in self.adopt_detached():
                self.dispatcher.cancel(run_id, node_name)
        threading.Thread(target=adopt_and_cancel, daemon=True, name=f"cancel-{run_id}").start()

    # ---- nodes -------------------------------------------------------------------------

    def add_node(self, node: Node, secret: str | None = None, accept_host_key: bool = False, check: bool = True):
        return self.nodes.add(node, secret, accept_host_key, check)

    def node_down(self, name: str) -> str | None:
        return self.health.down(name)

    def test_node(self, name: str, accept_host_key: bool = False, replace_host_key: bool = False):
        return self.nodes.test(name, accept_host_key, replace_host_key)

    def close(self, cancel_running: bool = True, stop_engine: bool = True) -> None:
        """Stop this engine (``stop_engine`` is the API's: an in-process engine always stops)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.scheduler.shutdown()  # first: no new runs while the running ones are stopped
        self.rules.close()
        self.health.close()
        self.after.close()
        self.job_refs.close()
        self.queue.close()
        self.dispatcher.shutdown(cancel_running)
        self.transfers.shutdown()
        self.notifier.close()
        self.pool.close()
        self.catalog.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resolve_options(job: Job, given: dict[str, str]) -> dict[str, str]:
    """Defaults overlaid with the values given; unknown or missing required options are errors."""
    known = {o.name: o for o in job.options}
    unknown = sorted(set(given) - set(known))
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise InvalidInput(f"job '{job.name}' has no option {', '.join(unknown)} (its options: {names})")
    values = {}
    for name, option in known.items():
        check_option_name(name)
        value = given.get(name, option.default)
        if option.required and value == "":
            raise InvalidInput(f"job '{job.name}' needs a value for option '{name}': -p {name}=VALUE")
        if option.choices and value != "" and value not in option.choices:
            raise InvalidInput(f"option '{name}' of job '{job.name}' is '{value}': allowed "
                               f"{', '.join(option.choices)}")
        values[name] = check_option_value(name, value, f"job '{job.name}': ")
    check_option_total(values, f"job '{job.name}': ")
    return values
