"""The catalog's records as plain dataclasses: nodes, jobs, steps, runs, node runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import InvalidInput
from .job_plan import Plan
from .smb_paths import check_smb_settings
from .status import KillState, NodeRunStatus, RunStatus

NOTIFY_KINDS = ("failed", "succeeded", "missed", "exceeded")
LAUNCH_MODES = ("auto", "attached", "detached")
DETACH_AFTER_S = 300.0  # "auto" launches jobs with a longer timeout detached
DEFAULT_PROJECT = "default"


class Transport(StrEnum):
    LOCAL = "local"
    SSH = "ssh"
    WINRM = "winrm"
    SLURM = "slurm"   # a Slurm cluster reached over SSH through its login node


class StepKind(StrEnum):
    COMMAND = "command"
    SCRIPT = "script"
    PUT = "put"    # copy local files/folders (``source``) into a folder on the node (``destination``)
    GET = "get"    # collect a remote path or glob (``source``) into ``destination``/<node>/
    JOB = "job"    # run another job (``job``) with ``options``, on ``targets`` or its own; a child run


class Trigger(StrEnum):
    MANUAL = "manual"
    CLI = "cli"
    SCHEDULE = "schedule"
    RETRY = "retry"
    RESUME = "resume"  # an interrupted workflow or array taken up again by the next engine


@dataclass
class Capacity:
    cpus: int | None = None
    memory_mb: int | None = None
    gpus: int | None = None


WINRM_AUTHS = ("ntlm", "basic", "kerberos", "credssp")


@dataclass
class WinrmSettings:
    """How a WinRM node is reached: authentication, HTTP or HTTPS, certificate check, and the
    shell its command steps are written for (option values are quoted for that shell)."""
    auth: str = "ntlm"
    https: bool = False
    verify_cert: bool = True   # off only by an explicit per-node choice (a self-signed certificate)
    shell: str = "cmd"         # "cmd" or "powershell"
    # File transfers over SMB when the share answers (else through PowerShell), same login:
    smb: bool = False
    smb_share: str = "C$"      # a drive's admin share X$ reaches every drive's admin share
    smb_port: int = 445
    smb_share_root: str = ""   # the Windows folder another share exposes (e.g. D:\\Lab); not for X$
    smb_home: str = ""         # where relative paths start; "" = %USERPROFILE% as the node reports it

    def __post_init__(self) -> None:
        if self.auth not in WINRM_AUTHS:
            raise InvalidInput(f"WinRM auth '{self.auth}' is not supported: use {', '.join(WINRM_AUTHS)}")
        if self.shell not in ("cmd", "powershell"):
            raise InvalidInput(f"WinRM shell '{self.shell}' is not supported: use cmd or powershell")
        if self.smb:
            check_smb_settings(self.smb_share, self.smb_port, self.smb_share_root, self.smb_home)


SLURM_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
# sbatch options LabDeck writes itself for every batch job: a node's extra arguments may not set them
SLURM_RESERVED_ARGS = ("--array", "-a", "--output", "-o", "--error", "-e", "--input", "-i", "--parsable",
                       "--wrap", "--chdir", "-D", "--job-name", "-J", "--export", "--open-mode")


@dataclass
class SlurmSettings:
    """Where a Slurm cluster's batch jobs go: partition and account (empty: the cluster's
    defaults) and extra sbatch arguments (e.g. --qos=short), passed on exactly as given."""
    partition: str = ""
    account: str = ""
    sbatch_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for what, value in (("partition", self.partition), ("account", self.account)):
            if value and not SLURM_NAME.fullmatch(value):
                raise InvalidInput(f"Slurm {what} '{value}' is not a name (letters, digits, '_', '.', '-')")
        for arg in self.sbatch_args:
            if not isinstance(arg, str) or not arg.startswith("-") or any(c in arg for c in "\n\r\0"):
                raise InvalidInput(f"--sbatch-arg '{arg}' is not an sbatch option: give one option a time, "
                                   "like --sbatch-arg=--qos=short")
            name = arg.split("=", 1)[0]
            if name in SLURM_RESERVED_ARGS or any(name.startswith(r) and len(r) == 2 and len(name) > 2
                                                  for r in SLURM_RESERVED_ARGS):
                raise InvalidInput(f"--sbatch-arg '{arg}': LabDeck sets {name} itself for every batch job")
            if name in ("--partition", "-p", "--account", "-A"):
                raise InvalidInput(f"--sbatch-arg '{arg}': use --partition / --account for that")


@dataclass
class Node:
    name: str
    transport: Transport = Transport.SSH
    host: str = ""
    port: int | None = None
    username: str = ""
    key_file: str | None = None
    credential_ref: str | None = None  # keyring entry; the secret itself never lives here
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    capacity: Capacity = field(default_factory=Capacity)
    os_family: str | None = None       # "linux", "windows", "darwin"; filled by a probe
    encoding: str = "utf-8"            # how the node's output is decoded
    probe: dict = field(default_factory=dict)
    last_seen: float | None = None
    winrm: WinrmSettings = field(default_factory=WinrmSettings)  # used by WinRM nodes only
    python: str = ""                   # runs .py script steps; "" = found on the node (core/interpreters.py)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)  # used by Slurm nodes only
    via: list[str] = field(default_factory=list)  # SSH: jump hosts (node names), first hop first
    id: int | None = None

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        if self.transport is Transport.WINRM:
            return 5986 if self.winrm.https else 5985
        return {Transport.SSH: 22, Transport.SLURM: 22}.get(self.transport, 0)


@dataclass
class Step:
    kind: StepKind = StepKind.COMMAND
    command: str = ""               # for COMMAND
    script: str = ""                # for SCRIPT: the body, kept in the catalog
    filename: str = "script.sh"     # for SCRIPT: the name it is uploaded as (its extension picks the interpreter)
    name: str = ""
    source: str = ""                # for PUT/GET; ${node.name} and ${option.X} allowed
    destination: str = ""           # for PUT/GET
    job: str = ""                   # for JOB: the job it runs
    options: dict[str, str] = field(default_factory=dict)  # for JOB: its option values; ${option.X} allowed
    targets: str = ""               # for JOB: where it runs ("": the job's own targets)


@dataclass
class JobOption:
    name: str
    default: str = ""
    description: str = ""
    required: bool = False
    choices: list[str] = field(default_factory=list)  # the only values allowed (empty: any)


@dataclass
class JobPolicy:
    timeout_s: float | None = None      # wall-clock deadline of one node run (all steps)
    retries: int = 0                    # extra attempts after a failed, timed-out or unreachable node run
    retry_delay_s: float = 0.0
    max_parallel: int = 0               # nodes at once; 0 = all
    retry_on: str = "same"              # "same" node, or "other": a retry moves to another node matching the targets
    unreachable: str = "fail"           # unreachable node: "fail" (retry rules), "wait" (unreachable_wait_s), "move"
    unreachable_wait_s: float = 60.0
    overlap: str = "skip"               # a fire while the previous run goes on: "skip", "queue" or "parallel"
    max_runtime_s: float | None = None  # a whole run longer than this is cancelled and restarted...
    max_restarts: int = 0               # ...up to this many times, then reported failed
    expected_duration_s: float | None = None  # longer than this: an "exceeded" notification (the run goes on)
    notify_on: list[str] = field(default_factory=lambda: ["failed", "missed"])  # succeeded, failed, missed, exceeded
    notify_webhooks: list[str] = field(default_factory=list)  # Slack, Teams or Discord incoming-webhook URLs
    notify_emails: list[str] = field(default_factory=list)    # sent through the SMTP server in the settings
    launch: str = "auto"  # "detached": runs on under a launcher on the node, whatever happens to LabDeck;
    #                       "attached": tied to the connection; "auto": detached when the timeout is over 5 minutes
    background: str = "kill"  # a step's background processes still holding its output once the step's shell has
    #                           exited (``./server & echo started``): "kill" them after a short grace, or "keep" them

    @property
    def detached(self) -> bool:
        return self.launch == "detached" or (
            self.launch == "auto" and self.timeout_s is not None and self.timeout_s > DETACH_AFTER_S)

    def __post_init__(self) -> None:
        for name, allowed in (("overlap", ("skip", "queue", "parallel")), ("retry_on", ("same", "other")),
                              ("unreachable", ("fail", "wait", "move")), ("launch", LAUNCH_MODES),
                              ("background", ("kill", "keep"))):
            if getattr(self, name) not in allowed:
                raise InvalidInput(f"policy '{name}' is '{getattr(self, name)}': allowed {', '.join(allowed)}")
        unknown = [k for k in self.notify_on if k not in NOTIFY_KINDS]
        if unknown:
            raise InvalidInput(f"policy 'notify_on' has {', '.join(unknown)}: allowed {', '.join(NOTIFY_KINDS)}")
        if self.max_restarts < 0:
            raise InvalidInput("policy 'max_restarts' cannot be negative")


PROJECT_NAME = re.compile(r"[\w][\w .@/+-]{0,79}")


def check_project_name(name, source: str = "") -> str:
    """A project name as given, or InvalidInput: letters, digits, space, . @ / + - _; up to 80."""
    text = str(name).strip() if name is not None else ""
    if not PROJECT_NAME.fullmatch(text):
        where = f"{source}: " if source else ""
        raise InvalidInput(f"{where}project '{name}' is not a valid name: use letters, digits, spaces and . @ / + - _ "
                           "(up to 80 characters)")
    return text


@dataclass
class Job:
    name: str
    steps: list[Step]
    targets: str = "all"
    options: list[JobOption] = field(default_factory=list)
    policy: JobPolicy = field(default_factory=JobPolicy)
    description: str = ""
    id: int | None = None
    plan: Plan = field(default_factory=Plan)  # workflow, array, resources, priority (empty: classic)
    project: str = DEFAULT_PROJECT  # jobs belong to a project (nodes are shared by all)


@dataclass
class Run:
    id: int
    job_name: str
    trigger: Trigger
    status: RunStatus
    options: dict[str, str]
    targets: str
    started_at: float
    finished_at: float | None = None
    cancel_requested: bool = False
    owner_pid: int | None = None
    owner_host: str | None = None
    schedule_id: int | None = None
    scheduled_for: float | None = None  # the fire time, for scheduled, missed and skipped runs
    note: str = ""                      # why a run was missed, skipped, restarted or failed without nodes
    restarts: int = 0                   # how many max-runtime restarts came before this run
    parent_run_id: int | None = None    # the first run of a chain of restarts
    called_by_run_id: int | None = None  # a job reference's run: the run whose step started it
    workflow_run_id: int | None = None  # a task run: the workflow or array run it belongs to
    task: str = ""                      # a task run: its step name or array index


@dataclass
class NodeRun:
    id: int
    run_id: int
    node_name: str
    status: NodeRunStatus
    attempt: int = 1
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    log_path: str = ""
    message: str = ""
    kill_state: KillState | None = None
    cancel_requested: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at
        if end is None:
            import time
            end = time.time()
        return max(0.0, end - self.started_at)
