"""Real OpenSSH ``sshd`` servers on loopback, for integration tests and benchmarks.

Responsibility
--------------
This module owns the lifecycle of throw-away OpenSSH servers that LabDeck's
integration tests and benchmarks talk to.  Nothing here is mocked: every
:class:`SshdNode` is a genuine ``/usr/sbin/sshd -D -e -f <config>`` process
listening on ``127.0.0.1`` with its own ed25519 host key, its own
``sshd_config``, authorized-keys file, pid file and log file inside a private
work directory.  An :class:`SshdCluster` creates nodes (in parallel), shares one
unencrypted ed25519 client key between them and tears them all down.

It also provides :func:`ensure_password_user` for password-authentication
tests (needs root) and :func:`sshd_available` so fixtures can fail loudly
when OpenSSH server is not installed.

Gotchas handled here
--------------------
* sshd must be executed by absolute path (it re-executes itself for every
  incoming connection: listener -> ``sshd -R`` child -> ``[priv]`` monitor ->
  ``user@notty`` session -> shell).  The per-connection child calls
  ``setsid()``, so it leaves the listener's process group; :meth:`SshdNode.stop`
  therefore SIGSTOPs the listener (no new forks), collects its descendants with
  psutil, SIGKILLs all of them, kills the process group, and finally sweeps
  any process whose command line still mentions the node's config path.
* When running as root sshd needs the privilege-separation directory
  ``/run/sshd`` (root-owned, 0755); it is created on demand.
* Free ports are picked by binding port 0 and are remembered process-wide so
  two nodes never get the same port; if sshd still loses a bind race
  ("Address already in use") the node retries with a fresh port.
* Readiness is "TCP connect succeeds *and* an ``SSH-2.0`` banner is read",
  polled for up to 10 s, while also watching the sshd process for early exit.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SSHD_BINARY = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
READY_TIMEOUT = 10.0

__all__ = [
    "SshdNode",
    "SshdCluster",
    "SshdStartError",
    "sshd_available",
    "ensure_password_user",
]


class SshdStartError(RuntimeError):
    """sshd could not be started; the message includes its log."""


class _PortInUse(SshdStartError):
    """sshd lost the race for its port."""


# --------------------------------------------------------------------------- helpers

_port_lock = threading.Lock()
_reserved_ports: set[int] = set()


def _pick_free_port() -> int:
    """Return a loopback port that was free just now and not handed out before."""
    with _port_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _reserved_ports:
                _reserved_ports.add(port)
                return port
    raise RuntimeError("could not find a free loopback port")


def _ssh_keygen(path: Path, comment: str) -> None:
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
    )
    path.chmod(0o600)


def _fingerprint(pub_file: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    # "256 SHA256:abc... comment (ED25519)"
    return out.split()[1]


def _ensure_privsep_dir() -> None:
    if os.geteuid() != 0:
        return
    try:
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        PRIVSEP_DIR.chmod(0o755)
    except OSError:
        pass  # sshd -t will report a precise error if this really matters


def _read_banner(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            while b"\n" not in data and len(data) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"SSH-2.0")
    except OSError:
        return False


def _read_banner_inside(prefix: list[str], host: str, port: int) -> bool:
    """_read_banner run under ``prefix`` (inside a network namespace), for an sshd that listens
    on an address only that namespace can reach."""
    code = (f"import socket; s = socket.create_connection(({host!r}, {port}), timeout=1); s.settimeout(1); "
            "import sys; sys.exit(0 if s.recv(256).startswith(b'SSH-2.0') else 1)")
    try:
        return subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _current_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "root")


def sshd_available() -> bool:
    """True when an OpenSSH server and ``ssh-keygen`` are installed."""
    return os.access(SSHD_BINARY, os.X_OK) and shutil.which("ssh-keygen") is not None


# --------------------------------------------------------------------------- node

_CONFIG_TEMPLATE = """\
# Generated by tests/support/sshd.py for node {name}
ListenAddress {host}
Port {port}
HostKey "{host_key}"
AuthorizedKeysFile "{authorized_keys}"
PidFile "{pid_file}"
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
UseDNS no
MaxStartups 100:30:200
MaxSessions 50
PrintMotd no
{subsystem}AcceptEnv LANG LC_*
LogLevel ERROR
# Keep the test nodes independent of the login user's ~/.bashrc (this image's runs `pyenv
# init`: ~100 ms a command, and a 60 s stall on a lock left by any login a test kills):
# Debian's bash skips .bashrc for ssh commands when SHLVL says it is nested.
SetEnv SHLVL=1 PYENV_REHASH_TIMEOUT=1{extra_env}
"""


@dataclass
class SshdNode:
    """One real sshd listening on loopback.  Create via :class:`SshdCluster`."""

    name: str
    host: str
    port: int
    user: str
    key_file: Path
    host_key_file: Path
    host_key_fingerprint: str
    workdir: Path
    extra_config: str = ""  # more sshd_config lines, applied at the next start()
    sftp: bool = True  # False: no "Subsystem sftp" line (as some locked-down servers), at the next start()
    extra_env: dict[str, str] = field(default_factory=dict)  # for the node's commands, at the next start()
    launch_prefix: list[str] = field(default_factory=list)  # e.g. ["ip", "netns", "exec", NS]
    hidden: bool = False  # listens where only its namespace reaches it (readiness is checked in there)
    _proc: subprocess.Popen | None = field(default=None, repr=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # -- paths -----------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.workdir / "sshd_config"

    @property
    def log_file(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def authorized_keys_file(self) -> Path:
        return self.workdir / "authorized_keys"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "sshd.pid"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- public API --------------------------------------------------------------
    def ssh_args(self) -> list[str]:
        """argv prefix for the OpenSSH client to run commands on this node."""
        return [
            "ssh",
            "-p", str(self.port),
            "-i", str(self.key_file),
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
            f"{self.user}@{self.host}",
        ]  # fmt: skip

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, port_retry_seconds: float = 5.0) -> None:
        """(Re)start on the same port with the same keys/config; wait for the banner."""
        with self._lock:
            if self.is_running():
                return
            deadline = time.monotonic() + port_retry_seconds
            while True:
                try:
                    self._launch()
                    return
                except _PortInUse:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.2)

    def stop(self) -> None:
        """Kill the listener and every per-connection child; idempotent."""
        with self._lock:
            proc = self._proc
            victims: dict[int, psutil.Process] = {}
            if proc is not None and proc.poll() is None:
                try:
                    listener = psutil.Process(proc.pid)
                    listener.suspend()  # SIGSTOP: no more accept()/fork() while we collect
                    for child in listener.children(recursive=True):
                        victims[child.pid] = child
                except psutil.Error:
                    pass
            # Fallback: anything still carrying our config path on its command line
            # (freshly re-exec'd "sshd -R -D -e -f CONFIG" children, orphans, ...).
            cfg = str(self.config_file)
            own_pid = proc.pid if proc is not None else None
            for p in psutil.process_iter(["pid", "cmdline"]):
                try:
                    cmdline = p.info.get("cmdline") or []
                    if p.pid != own_pid and cfg in cmdline:
                        victims.setdefault(p.pid, p)
                except psutil.Error:
                    continue
            # Kill the listener (and its process group) first, then the sessions.
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
            for v in victims.values():
                try:
                    v.kill()
                except psutil.Error:
                    pass
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            _wait_gone(list(victims.values()), timeout=3.0)
            self.pid_file.unlink(missing_ok=True)

    def regenerate_host_key(self) -> None:
        """Replace the host key (takes effect on the next start)."""
        with self._lock:
            _ssh_keygen(self.host_key_file, f"labdeck-test-host-{self.name}")
            self.host_key_fingerprint = _fingerprint(self._host_pub)

    # -- internals ---------------------------------------------------------------
    @property
    def _host_pub(self) -> Path:
        return self.host_key_file.with_name(self.host_key_file.name + ".pub")

    def _write_config(self) -> None:
        self.config_file.write_text(
            _CONFIG_TEMPLATE.format(
                name=self.name,
                host=self.host,
                port=self.port,
                host_key=self.host_key_file,
                authorized_keys=self.authorized_keys_file,
                pid_file=self.pid_file,
                extra_env="".join(f" {k}={v}" for k, v in self.extra_env.items()),  # sshd keeps the first SetEnv
                subsystem="Subsystem sftp internal-sftp\n" if self.sftp else "",
            )
            + self.extra_config
        )

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-limit:]
        except OSError:
            return "<no log>"

    def _launch(self) -> None:
        _ensure_privsep_dir()
        self._write_config()
        check = subprocess.run(
            [*self.launch_prefix, SSHD_BINARY, "-t", "-f", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check.returncode != 0:
            raise SshdStartError(
                f"sshd -t rejected {self.config_file} (rc={check.returncode}):\n"
                f"{check.stdout}{check.stderr}"
            )
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                [*self.launch_prefix, SSHD_BINARY, "-D", "-e", "-f", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                log_text = self._log_since(log_offset)
                rc = self._proc.returncode
                self._proc = None
                if "Address already in use" in log_text or "Cannot bind any address" in log_text:
                    raise _PortInUse(f"{self.name}: port {self.port} in use:\n{log_text}")
                raise SshdStartError(f"{self.name}: sshd exited with rc={rc}:\n{log_text}")
            if (_read_banner_inside(self.launch_prefix, self.host, self.port) if self.hidden
                    else _read_banner(self.host, self.port)):
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise SshdStartError(
                    f"{self.name}: sshd on {self.host}:{self.port} not ready after "
                    f"{READY_TIMEOUT}s:\n{self._log_since(log_offset)}"
                )
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return "<no log>"


def _wait_gone(procs: list[psutil.Process], timeout: float) -> None:
    """Wait until procs are dead or zombies (pid 1 may never reap orphans)."""
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        still = []
        for p in pending:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    still.append(p)
            except psutil.Error:
                pass
        pending = still
        if pending:
            time.sleep(0.02)


# --------------------------------------------------------------------------- cluster

_live_clusters: weakref.WeakSet[SshdCluster] = weakref.WeakSet()


class SshdCluster:
    """A set of :class:`SshdNode` sharing one client key, under ``base_dir``."""

    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.user = _current_user()
        self.host = "127.0.0.1"
        self.nodes: list[SshdNode] = []
        self._lock = threading.Lock()
        self._counter = 0
        self.client_key_file = self.base_dir / "client_ed25519"
        self._client_key_ready = False
        _live_clusters.add(self)

    @property
    def client_pub_file(self) -> Path:
        return self.client_key_file.with_name(self.client_key_file.name + ".pub")

    def _ensure_client_key(self) -> None:
        with self._lock:
            if not self._client_key_ready:
                if not sshd_available():
                    raise SshdStartError(
                        f"OpenSSH server not found at {SSHD_BINARY}; install openssh-server"
                    )
                _ssh_keygen(self.client_key_file, "labdeck-test-client")
                self._client_key_ready = True

    def _next_names(self, count: int, prefix: str) -> list[str]:
        with self._lock:
            names = []
            for _ in range(count):
                self._counter += 1
                names.append(f"{prefix}{self._counter:04d}")  # name order is start order, past 99 too
            return names

    def start_node_in(self, launch_prefix: list[str], host: str, prefix: str = "nsnode",
                      hidden: bool = False) -> SshdNode:
        """One node whose sshd runs under ``launch_prefix`` (a network namespace) on ``host``;
        ``hidden``: ``host`` is an address only that namespace reaches (its own 127.0.0.1), so
        the node can be reached only through another node in the namespace (a jump host)."""
        self._ensure_client_key()
        return self._create_node(self._next_names(1, prefix)[0], launch_prefix, host, hidden)

    def _create_node(self, name: str, launch_prefix: list[str] | None = None, host: str | None = None,
                     hidden: bool = False) -> SshdNode:
        workdir = self.base_dir / name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        host_key = workdir / "ssh_host_ed25519_key"
        _ssh_keygen(host_key, f"labdeck-test-host-{name}")
        node = SshdNode(
            name=name,
            host=host or self.host,
            port=_pick_free_port(),
            user=self.user,
            key_file=self.client_key_file,
            host_key_file=host_key,
            host_key_fingerprint=_fingerprint(host_key.with_name(host_key.name + ".pub")),
            workdir=workdir,
            launch_prefix=list(launch_prefix or []),
            hidden=hidden,
        )
        shutil.copyfile(self.client_pub_file, node.authorized_keys_file)
        node.authorized_keys_file.chmod(0o600)
        with self._lock:
            self.nodes.append(node)
        for attempt in range(5):
            try:
                node._launch()
                return node
            except _PortInUse:
                if attempt == 4:
                    raise
                node.port = _pick_free_port()
        return node  # pragma: no cover

    def start_nodes(self, count: int, prefix: str = "node") -> list[SshdNode]:
        """Start ``count`` fresh nodes concurrently and return them once all are ready."""
        if count <= 0:
            return []
        self._ensure_client_key()
        names = self._next_names(count, prefix)
        workers = max(1, min(count, 16))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sshd-start") as pool:
            futures = [pool.submit(self._create_node, n) for n in names]
            nodes, errors = [], []
            for fut in futures:
                try:
                    nodes.append(fut.result())
                except Exception as exc:  # noqa: BLE001 - re-raised below
                    errors.append(exc)
        if errors:
            for n in nodes:
                n.stop()
            raise errors[0]
        return nodes

    def stop_all(self) -> None:
        with self._lock:
            nodes = list(self.nodes)
        for node in nodes:
            try:
                node.stop()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass


@atexit.register
def _stop_leftover_clusters() -> None:
    for cluster in list(_live_clusters):
        cluster.stop_all()


# --------------------------------------------------------------------------- users

_password_lock = threading.Lock()
_passwords: dict[str, str] = {}


def _shared_password(username: str) -> str:
    """One password per test user for every process on this machine, so test runs going on at
    the same time do not change it under each other (kept root-only in the temp folder)."""
    path = Path(tempfile.gettempdir()) / f".{username}.password"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            stored = path.read_text().strip()
            if stored:
                return stored
            time.sleep(0.05)
        raise RuntimeError(f"{path} stays empty; remove it and run again") from None
    password = secrets.token_urlsafe(18)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    return password


def ensure_password_user(username: str = "labdeck-test") -> tuple[str, str]:
    """Create (once) a local user with a random password; return ``(username, password)``.

    Requires root.  The password is stable for the lifetime of this process and
    is (re)applied with ``chpasswd`` even if the user already existed.
    """
    if os.geteuid() != 0:
        raise RuntimeError("ensure_password_user() needs root to create local users")
    import pwd

    with _password_lock:
        if username in _passwords:
            return username, _passwords[username]
        try:
            pwd.getpwnam(username)
        except KeyError:
            res = subprocess.run(
                ["useradd", "-m", "-s", "/bin/sh", username],
                capture_output=True,
                text=True,
                timeout=60,
            )
            # rc 9 = "username already in use" (lost a race with another process)
            if res.returncode not in (0, 9):
                raise RuntimeError(f"useradd {username} failed: {res.stderr.strip()}") from None
        password = _shared_password(username)
        res = subprocess.run(
            ["chpasswd"],
            input=f"{username}:{password}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise RuntimeError(f"chpasswd for {username} failed: {res.stderr.strip()}")
        _passwords[username] = password
        return username, password
