"""A real Samba ``smbd`` on a loopback port, for the SMB transfer tests and benchmark.

Each :class:`SmbdServer` is ``/usr/sbin/smbd --foreground`` (run as root) with a private
``smb.conf`` in its own folder: its own lock, state, cache, private and pid folders, a tdbsam
password database holding one user, ``smb ports`` set to a free port, and one share (by
default ``C$``, as a Windows admin share is named) on a folder of its own. The Unix user behind
the Samba account is created if it does not exist; the share forces file access as root so the
test's private temporary folders need no permission changes.

``stop()`` kills smbd and every per-connection child it forked (they share its process group)
so a client in the middle of a transfer sees the server drop; ``start()`` again brings it back
on the same port with the same files, which is what the resume tests need.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SMBD = "/usr/sbin/smbd"
READY_TIMEOUT = 20.0

CONF = """\
[global]
  server role = standalone server
  workgroup = LABDECK
  netbios name = LABDECKTEST
  smb ports = {port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  lock directory = {work}/lock
  state directory = {work}/state
  cache directory = {work}/cache
  private dir = {work}/private
  pid directory = {work}/pid
  ncalrpc dir = {work}/ncalrpc
  binddns dir = {work}/binddns
  log file = {work}/log.smbd
  passdb backend = tdbsam:{work}/private/passdb.tdb
  map to guest = never
  server min protocol = SMB2_10
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  usershare path =
  store dos attributes = no

[{share}]
  path = {root}
  read only = no
  browseable = yes
  valid users = {user}
  force user = root
  create mask = 0644
  directory mask = 0755
"""


def smbd_available() -> bool:
    return Path(SMBD).exists() and shutil.which("pdbedit") is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_unix_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], capture_output=True, text=True,
                                timeout=60)
        if result.returncode not in (0, 9):  # 9: someone else created it meanwhile
            raise RuntimeError(f"useradd {name} failed: {result.stderr.strip()}") from None


class SmbdServer:
    def __init__(self, work: Path, share: str = "C$", user: str = "labdeck-smb", password: str = "Smb-Pass-1"):
        self.work = Path(work)
        self.root = self.work / "share"
        self.share = share
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.conf = self.work / "smb.conf"
        self._proc: subprocess.Popen | None = None

    def start(self) -> SmbdServer:
        if os.geteuid() != 0:
            raise RuntimeError("the Samba test server runs smbd as root")
        for sub in ("lock", "state", "cache", "private", "pid", "ncalrpc", "binddns"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(CONF.format(port=self.port, work=self.work, share=self.share, root=self.root,
                                         user=self.user))
        if self._proc is None and not (self.work / "private" / "passdb.tdb").exists():
            _ensure_unix_user(self.user)
            subprocess.run(["pdbedit", "-s", str(self.conf), "-a", "-u", self.user, "-t"],
                           input=f"{self.password}\n{self.password}\n", capture_output=True, text=True,
                           check=True, timeout=60)
        log = open(self.work / "smbd.out", "ab")
        self._proc = subprocess.Popen([SMBD, "--foreground", "--no-process-group", "-s", str(self.conf),
                                       "--debug-stdout", "-d", "1"],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        until = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < until:
            if self._proc.poll() is not None:
                raise RuntimeError(f"smbd exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"smbd did not answer on port {self.port} within {READY_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.work / "smbd.out"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        """Kill smbd and its per-connection children at once (a dropped server, not a shutdown)."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait(timeout=10)
        self._proc = None
        time.sleep(0.2)  # children reaped by init; the port is free again (SO_REUSEADDR on smbd's side)

    def __enter__(self) -> SmbdServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
