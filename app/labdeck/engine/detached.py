"""Detached node runs: launched under a launcher on the node, then followed from the
controller -- the remote output tailed into the local log from saved offsets, the state
polled over the pooled connection, the deadline and cancel enforced by killing the recorded
process group. A later LabDeck process re-attaches from the same record.

A node that stops answering for the heartbeat time has its node runs marked ``node_lost``
(see heartbeat.py); the follower keeps trying and records the real outcome when it answers.
Nothing here decides retries or run summaries: it returns an outcome to the dispatcher, or
None when released at shutdown (the command goes on; the next LabDeck process picks it up)."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from typing import TYPE_CHECKING

from ..core.errors import AuthenticationFailed, HostKeyChanged, HostKeyUnknown, NodeUnreachable
from ..core.events import NodeRunStateChanged
from ..core.exit_codes import describe_exit
from ..core.models import Node, NodeRun
from ..core.option_values import ValueFile
from ..core.status import KillState, NodeRunStatus
from ..executors.base import LaunchLimits, ScriptFile
from ..executors.pool import ExecutorPool
from ..store.catalog import Catalog
from ..store.detached import DetachedRecord, DetachedStore
from ..store.identity import run_token
from ..store.logs import MAX_HELD_LINE, LogWriter
from .heartbeat import Heartbeats, float_setting
from .outcome import Outcome

if TYPE_CHECKING:  # paramiko (which detached_ops imports) loads with the first SSH node, not at start-up
    from ..executors.detached_ops import DetachedOps

log = logging.getLogger(__name__)

RETENTION_SETTING = "detached_retention_days"
DEFAULT_RETENTION_DAYS = 7.0
POLL_MIN_S = 0.5
POLL_MAX_S = 2.0
READ_LIMIT = 4 << 20
SAVE_EVERY_S = 1.0
STREAMS = (("out", "stdout"), ("err", "stderr"))
_UNKNOWN_REASON = "\0unknown"  # no scheduler says this: the next poll notes the real state


class DetachedRunner:
    def __init__(self, catalog: Catalog, pool: ExecutorPool, heartbeats: Heartbeats):
        self._catalog = catalog
        self._pool = pool
        self._heartbeats = heartbeats
        self.store = DetachedStore(catalog)
        self.released = threading.Event()  # shutdown: stop following, leave the commands running
        self._cleaned: set[str] = set()

    @staticmethod
    def ops_for(executor) -> DetachedOps | None:
        return executor.detached_ops()

    # ---- launching ---------------------------------------------------------------------

    def launch(self, ops: DetachedOps, run_id: int, node: Node, nr: NodeRun, writer: LogWriter,
               cancel, steps: list[str | ScriptFile], env: dict[str, str], timeout_s: float | None,
               kill_grace_s: float, limits: LaunchLimits | None = None,
               value_files: list[ValueFile] | None = None) -> Outcome | None:
        """Launch the steps detached and follow them. ``limits`` go to a batch scheduler, which
        then keeps the timeout itself (time waiting in its queue does not count)."""
        # unique per catalog and attempt: two catalogs (or attempts) never share a folder on a node
        tag = f"run-{run_id}-{node.name}-{self.store.token()}-{secrets.token_hex(2)}"
        record = DetachedRecord(
            node_run_id=nr.id, node_name=node.name, remote_dir=ops.run_dir(tag),
            deadline_at=time.time() + timeout_s if timeout_s and not getattr(ops, "enforces_timeout", False) else None,
            kill_grace_s=kill_grace_s)
        self.store.add(record)  # before the launch: a crash right after it still finds the folder
        # option values too large for an environment: files in the run folder (only ops that take them get any)
        more = {"value_files": value_files} if value_files else {}
        record.pgid = ops.launch(record.remote_dir, steps, env, limits, **more)
        describe = getattr(ops, "describe", None)  # a Windows node has a process tree and a profile folder
        where = (describe(record.pgid, record.remote_dir) if describe
                 else f"process group {record.pgid}, folder ~/{record.remote_dir}")
        writer.note(f"started detached on {node.name} ({where}); it goes on if LabDeck stops")
        record.log_size = _size(writer)
        self.store.update(nr.id, pgid=record.pgid, log_size=record.log_size)
        return self.follow(ops, run_id, node.name, nr, record, writer, cancel)

    # ---- following ---------------------------------------------------------------------

    def follow(self, ops: DetachedOps, run_id: int, node_name: str, nr: NodeRun, record: DetachedRecord,
               writer: LogWriter, cancel) -> Outcome | None:
        """Tail and poll until the command ends, the deadline or cancel kills it, or shutdown."""
        watch = self._heartbeats.watch(
            run_id, nr.id, node_name, writer, lost=record.lost_since is not None,
            on_change=lambda lost: self.store.update(nr.id, lost_since=time.time() if lost else None))
        offsets = {"out": record.out_offset, "err": record.err_offset}
        pending = {"out": b"", "err": b""}
        # a Windows node's PowerShell writes errors as CLIXML: the ops may give a decoder for them
        decoders = {"err": ops.stderr_decoder()} if hasattr(ops, "stderr_decoder") else {}
        if decoders:
            writer = _Decoding(writer, decoders)  # type: ignore[assignment]  # a LogWriter in all the follower uses
        saved_at, interval, dirty = 0.0, POLL_MIN_S, False
        # a batch scheduler's reason for keeping the job queued, as last noted; a node run a
        # previous process saw queued is noted again (still queued, or started meanwhile)
        waiting = _UNKNOWN_REASON if nr.status is NodeRunStatus.QUEUED else None
        poll_max = getattr(ops, "poll_max_s", POLL_MAX_S)  # a Windows status check starts a PowerShell
        try:
            while not self.released.is_set():
                try:
                    state = ops.status(record.remote_dir, record.pgid)
                    got = self._read_new(ops, record.remote_dir, state, offsets, pending, writer)
                except NodeUnreachable as exc:
                    log.debug("detached node run %s: %s", nr.id, exc)
                    time.sleep(min(poll_max, interval))
                    continue
                except (HostKeyChanged, HostKeyUnknown, AuthenticationFailed) as exc:
                    # Fixable by the user (accept the new key, fix the login): the command may
                    # still run, so the node run stays re-attachable -- node_lost with the reason.
                    watch.blocked(f"cannot reach the command on node {node_name}: {exc}. It may still be "
                                  "running there; once that is fixed LabDeck records its real outcome")
                    _sleep(poll_max, cancel, self.released)
                    if cancel.is_set():  # the user gives up on it; a deadline waits to kill it when reachable
                        message = f"detached command cancelled; kill unconfirmed ({exc})"
                        writer.note(message)
                        return Outcome(NodeRunStatus.CANCELLED, None, message, KillState.KILL_UNCONFIRMED)
                    continue
                if watch.lost:
                    waiting = None  # the node answers again: the heartbeat marks it running; queued wins
                watch.alive()
                if state.waiting != waiting and (state.waiting or (waiting is not None and state.state == "running")):
                    self._note_waiting(run_id, nr, node_name, writer, state.waiting)
                waiting = state.waiting
                if state.pgid and state.pgid != record.pgid:
                    record.pgid = state.pgid
                    self.store.update(nr.id, pgid=record.pgid)
                if state.state != "running":
                    _flush(pending, writer)
                    self._clean_later(ops, node_name)
                    if state.ended_as is not None:  # a scheduler's end state (Slurm: TIMEOUT, CANCELLED...)
                        writer.note(state.message)
                        return Outcome(state.ended_as, state.exit_code, state.message)
                    if state.state == "gone":
                        message = (f"the command is gone from node {node_name} without an exit status "
                                   "(the node restarted, or something killed it)")
                        writer.note(message)
                        return Outcome(NodeRunStatus.LOST, None, message)
                    if state.exit_code == 0:
                        return Outcome(NodeRunStatus.SUCCEEDED, 0)
                    meaning = (describe_exit(state.exit_code, getattr(ops, "os_family", None))
                               if state.exit_code is not None else "ended without a readable exit code")
                    return Outcome(NodeRunStatus.FAILED, state.exit_code, f"step {state.step} {meaning}")
                dirty = dirty or got
                if dirty and time.monotonic() - saved_at >= SAVE_EVERY_S:
                    self.store.update(nr.id, out_offset=offsets["out"], err_offset=offsets["err"],
                                      log_size=_size(writer))
                    saved_at, dirty = time.monotonic(), False
                stop = _stop(record, cancel)
                if stop is not None and self.released.is_set():
                    break  # shutdown cancels every run after releasing these: the command goes on
                if stop is not None and record.pgid:
                    kill_state = ops.kill(record.pgid, record.kill_grace_s, run_token(self._catalog, nr.id))
                    try:
                        self._read_new(ops, record.remote_dir, ops.status(record.remote_dir, record.pgid),
                                       offsets, pending, writer)
                    except NodeUnreachable:
                        pass
                    _flush(pending, writer)
                    verb = "timed out" if stop is NodeRunStatus.TIMED_OUT else "cancelled"
                    detail = "process tree killed" if kill_state is KillState.KILLED else "kill unconfirmed"
                    message = f"detached command {verb}; {detail}"
                    writer.note(message)
                    return Outcome(stop, None, message, kill_state)
                interval = POLL_MIN_S if got else min(poll_max, interval * 1.5)
                until_deadline = record.deadline_at - time.time() if record.deadline_at is not None else interval
                _sleep(max(0.0, min(interval, until_deadline)), cancel, self.released)
            self.store.update(nr.id, out_offset=offsets["out"], err_offset=offsets["err"], log_size=_size(writer))
            return None
        finally:
            watch.close()

    def _note_waiting(self, run_id: int, nr: NodeRun, node_name: str, writer: LogWriter, reason: str) -> None:
        """Queued by a batch scheduler (and why), or started after waiting: the node run's status
        (queued, then running), its message and a line in the log, so the run view says why
        nothing happens yet."""
        message = f"queued on {node_name} ({reason})" if reason else f"started on {node_name}"
        status = NodeRunStatus.QUEUED if reason else NodeRunStatus.RUNNING
        writer.note(message)
        self._catalog.update_node_run(nr.id, status=status, message=message if reason else "")
        self._heartbeats.publish(NodeRunStateChanged(run_id, nr.id, node_name, status, message))

    def _read_new(self, ops: DetachedOps, remote_dir: str, state, offsets: dict, pending: dict,
                  writer: LogWriter) -> bool:
        """Everything the node has written since the offsets. Whole lines go to the log and
        advance the offsets; an unfinished line waits (so a saved offset is always a line end)."""
        got = False
        for name, stream in STREAMS:
            size = state.out_size if name == "out" else state.err_size
            while offsets[name] + len(pending[name]) < size:
                position = offsets[name] + len(pending[name])
                data = ops.read(remote_dir, name, position, min(READ_LIMIT, size - position))
                if not data:
                    break
                got = True
                buf = pending[name] + data
                cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
                if not cut and len(buf) > MAX_HELD_LINE:
                    cut = len(buf)
                if cut:
                    writer.write(stream, buf[:cut])
                offsets[name] += cut
                pending[name] = buf[cut:]
        return got

    # ---- retention ---------------------------------------------------------------------

    def _clean_later(self, ops: DetachedOps, node_name: str) -> None:
        """Once per node per LabDeck process: remove run folders older than the retention."""
        if node_name in self._cleaned:
            return
        self._cleaned.add(node_name)
        days = float_setting(self._catalog, RETENTION_SETTING, DEFAULT_RETENTION_DAYS)

        def clean() -> None:
            try:
                ops.cleanup(max(1, int(days * 24 * 60)))
            except NodeUnreachable:
                self._cleaned.discard(node_name)
            except Exception as exc:  # noqa: BLE001 - e.g. the connection closed under it at shutdown
                log.debug("cleaning old run folders on %s: %r", node_name, exc)
                self._cleaned.discard(node_name)
        threading.Thread(target=clean, daemon=True, name=f"clean-{node_name}").start()


def _stop(record: DetachedRecord, cancel) -> NodeRunStatus | None:
    if cancel.is_set():
        return NodeRunStatus.CANCELLED
    if record.deadline_at is not None and time.time() >= record.deadline_at:
        return NodeRunStatus.TIMED_OUT
    return None


def _sleep(seconds: float, cancel, released: threading.Event) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not cancel.is_set() and not released.is_set():
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def _flush(pending: dict, writer: LogWriter) -> None:
    for name, stream in STREAMS:
        if pending[name]:
            writer.write(stream, pending[name])
            pending[name] = b""
    if isinstance(writer, _Decoding):
        writer.close_decoders()


class _Decoding:
    """A log writer whose streams pass through decoders (``feed``/``close`` of bytes) first;
    the follower's offsets still count the node's bytes."""

    def __init__(self, writer: LogWriter, decoders: dict):
        self._writer = writer
        self._decoders = {stream: decoders[name] for name, stream in STREAMS if name in decoders}

    def write(self, stream: str, data: bytes) -> None:
        decoder = self._decoders.get(stream)
        data = decoder.feed(data) if decoder is not None else data
        if data:
            self._writer.write(stream, data)

    def close_decoders(self) -> None:
        for stream, decoder in self._decoders.items():
            if rest := decoder.close():
                self._writer.write(stream, rest)

    def __getattr__(self, name):
        return getattr(self._writer, name)


def _size(writer: LogWriter) -> int:
    try:
        return os.path.getsize(writer.path)
    except OSError:
        return 0
