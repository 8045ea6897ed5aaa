"""A task as a run of its own on one node: a task run (``runs.workflow_run_id`` points at its
workflow or array run) executed by the dispatcher like any run — deadline, cancel, retries,
log file — with the task's extra environment. Also the small node-file helpers workflows
need (the node's home folder, a task's folder there, upload and download over the
executor's SFTP; the file-transfer engine of issue #6 can take these over)."""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from ..core.errors import LabDeckError, NodeUnreachable
from ..core.job_plan import Plan
from ..core.models import Job, Node, Run, Step, StepKind, Trigger
from ..core.quoting import Shell, quote
from ..executors.base import CommandRequest, Deadline
from ..store import paths

HOME_TIMEOUT_S = 30
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_ARRAY_REF = re.compile(r"\$\{array\.(index|item)\}")


def start_task_run(engine, parent: Run, job: Job, key: str, node: Node, steps: list[Step],
                   env: dict[str, str], trigger: Trigger, on_created, note: str = "") -> int:
    """Record a task run and hand it to the dispatcher; ``on_created(run_id)`` is called before
    it can finish, so the caller can recognise its RunFinished event."""
    policy = replace(job.policy, max_runtime_s=None, expected_duration_s=None, notify_on=[],
                     notify_webhooks=[], notify_emails=[], max_parallel=0, overlap="parallel")
    # the plan's resources go with it: a batch scheduler (Slurm) asks for them
    task_job = Job(name=f"{job.name}/{key}", steps=steps, targets=node.name, options=job.options, policy=policy,
                   plan=Plan(resources=job.plan.resources))
    logs = paths.logs_dir(engine.data_dir)
    run, node_runs = engine.catalog.create_run(
        task_job.name, None, trigger, parent.options, node.name, [node.name],
        lambda run_id, name: logs / str(run_id) / f"{name}.log",
        {"workflow_run_id": parent.id, "task": key, "note": note})
    on_created(run.id)
    engine.dispatcher.start(run, task_job, [node], node_runs, env=env)
    return run.id


def substitute_array(steps: list[Step], index: int, item: str, shell: Shell) -> list[Step]:
    """``${array.index}`` and ``${array.item}`` in commands, quoted for the node's shell."""
    values = {"index": str(index), "item": item}

    def fill(text: str) -> str:
        if shell is Shell.CMD:
            return _ARRAY_REF.sub(lambda m: f"!LABDECK_{'ARRAY_INDEX' if m.group(1) == 'index' else 'ITEM'}!", text)
        return _ARRAY_REF.sub(lambda m: quote(values[m.group(1)], shell), text)

    return [replace(s, command=fill(s.command)) if s.kind is StepKind.COMMAND else replace(s, script=fill(s.script))
            for s in steps]


class NodeFiles:
    """Per-node home folders (asked once) and file moves through the node's executor."""

    def __init__(self, engine):
        self._engine = engine
        self._homes: dict[str, str] = {}
        self._lock = threading.Lock()

    def home(self, node: Node) -> str:
        """The node's home folder as its executor knows it: a Windows node's profile folder
        (``C:\\Users\\name``; Windows has no ``$HOME``), else ``$HOME`` as the node's shell says."""
        with self._lock:
            if node.name in self._homes:
                return self._homes[node.name]
        executor = self._engine.pool.get(node)
        home_folder = getattr(executor, "home_folder", None)
        if home_folder is not None:
            home = home_folder()
        else:
            out: list[bytes] = []
            result = executor.run(CommandRequest(command='printf "%s" "$HOME"'),
                                  lambda stream, data: out.append(data) if stream == "stdout" else None,
                                  Deadline.after(HOME_TIMEOUT_S), threading.Event())
            home = b"".join(out).decode("utf-8", "replace").strip()
            if result.exit_code != 0 or not home.startswith("/"):
                raise LabDeckError(f"node '{node.name}': could not find its home folder (got '{home}')")
        with self._lock:
            self._homes[node.name] = home
        return home

    def join(self, node: Node, *parts: str) -> str:
        """A path under the node's home folder, with the node's separator."""
        return under(self.home(node), *parts)

    def resolve(self, node: Node, path: str) -> str:
        """A path on the node: as it is if absolute, else under the home folder."""
        return path if path.startswith("/") or _WINDOWS_PATH.match(path) else self.join(node, path)

    def task_folder(self, node: Node, name: str) -> str:
        return self.join(node, ".labdeck/runs", name)

    def put_text(self, node: Node, remote: str, text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "file"
            local.write_text(text, encoding="utf-8")
            self.put(node, local, remote)

    def put(self, node: Node, local: Path, remote: str) -> None:
        try:
            self._engine.pool.get(node).upload(local, remote)
        except OSError as exc:
            raise NodeUnreachable(f"node '{node.name}': uploading {local.name} to {remote} failed ({exc})") from exc

    def get(self, node: Node, remote: str, local: Path) -> bool:
        """Download; False if the file is not there."""
        try:
            self._engine.pool.get(node).download(remote, local)
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            if getattr(exc, "errno", None) == 2:
                return False
            raise NodeUnreachable(f"node '{node.name}': downloading {remote} failed ({exc})") from exc


def under(folder: str, *parts: str) -> str:
    """``parts`` under a node's folder, with the separator that folder uses (``\\`` on Windows)."""
    sep = "\\" if _WINDOWS_PATH.match(folder) else "/"
    return sep.join([folder.rstrip("/\\"), *(p.replace("/", sep) for p in parts)])


def parse_outputs(text: str) -> dict[str, str]:
    """``name=value`` lines (later lines win); other lines are ignored."""
    outputs = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            outputs[name.strip()] = value.rstrip("\r")
    return outputs
