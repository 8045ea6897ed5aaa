"""One pooled SSH connection to one node (paramiko Transport), shared by all its channels.

Connect sets TCP_NODELAY (a command costs ~2 ms instead of ~44 ms on loopback) and TCP
keepalive, checks the host key against the accepted one before authenticating, and turns
every socket-level failure into NodeUnreachable. ``open_session`` health-checks an idle
connection and reconnects once on a dead one (as fractal-server's SSH layer does).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from ...core.errors import AuthenticationFailed, LabDeckError, NodeUnreachable
from . import exit_signal as ssh_exit_signal

HostKeyCheck = Callable[[str, str, str, str], None]
"""(node name, key type, base64 key, fingerprint) -> None, or raises HostKeyUnknown/HostKeyChanged."""

CONNECT_TIMEOUT_S = 8.0
KEEPALIVE_S = 5
DEAD_PEER_S = 20  # a silently dead peer fails writes after this long instead of the kernel's 15 minutes
IDLE_CHECK_AFTER_S = 15.0
MAX_CHANNELS = 8  # below OpenSSH's default MaxSessions of 10, leaving room for kill and probe


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass
class SshTarget:
    node: str
    host: str
    port: int
    username: str
    key_file: str | None = None
    password: str | None = None     # from the keyring, never stored elsewhere
    passphrase: str | None = None   # for an encrypted key file, from the keyring


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it has read at once (Linux TCP_QUICKACK).

    sshd leaves Nagle on for non-interactive sessions, so a small reply it writes while an
    earlier small packet is still unacknowledged waits for our ACK, which the kernel delays
    by 40 ms. That is what happens to the first channel-open after authentication (the server
    sends hostkeys-00 and debug messages right behind USERAUTH_SUCCESS): 43 of a 68 ms
    connect-and-run on loopback. TCP_QUICKACK is not sticky, so it is set after every read."""

    __slots__ = ()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        try:
            if _TCP_QUICKACK is not None:
                self.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            pass
        return data


_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _open_socket(target: SshTarget, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
        if _TCP_QUICKACK is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock = _QuickAckSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
            sock.settimeout(timeout)
    except TimeoutError as exc:
        raise NodeUnreachable(f"node '{target.node}': no answer from {target.host}:{target.port} "
                              f"within {timeout:.0f} s") from exc
    except OSError as exc:
        raise NodeUnreachable(f"node '{target.node}': cannot connect to {target.host}:{target.port} "
                              f"({exc.strerror or exc})") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if sys.platform.startswith("linux"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(DEAD_PEER_S * 1000))
    return sock


def fetch_host_key(target: SshTarget, timeout: float = CONNECT_TIMEOUT_S,
                   via: SshConnection | None = None) -> tuple[str, str, str]:
    """The key the host presents: (type, base64, fingerprint). Used to show it for acceptance.
    ``via``: the connection to the last jump host the node is reached through."""
    transport = paramiko.Transport(via.tunnel(target, timeout) if via else _open_socket(target, timeout))
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return key.get_name(), key.get_base64(), fingerprint(key)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise NodeUnreachable(f"node '{target.node}': SSH handshake with {target.host}:{target.port} "
                              f"failed ({exc})") from exc
    finally:
        transport.close()


class SftpUnavailable(LabDeckError):
    """The node answers, but its sshd offers no SFTP subsystem."""


class SshConnection:
    def __init__(self, target: SshTarget, check_host_key: HostKeyCheck, connect_timeout: float = CONNECT_TIMEOUT_S,
                 via: SshConnection | None = None):
        """``via``: the (pooled, shared) connection to the last jump host; the node is reached
        through a direct-tcpip channel of it instead of a socket of its own."""
        self.target = target
        self.via = via
        self._check_host_key = check_host_key
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._transport: paramiko.Transport | None = None
        self._last_ok = 0.0
        self._channels = threading.BoundedSemaphore(MAX_CHANNELS)

    # ---- connecting --------------------------------------------------------------------

    def _connect(self) -> paramiko.Transport:
        t = self.target
        sock = self.via.tunnel(t, self._connect_timeout) if self.via else _open_socket(t, self._connect_timeout)
        transport = paramiko.Transport(sock)
        _prefer_fast_ciphers(transport)
        try:
            transport.start_client(timeout=self._connect_timeout)
            key = transport.get_remote_server_key()
            self._check_host_key(t.node, key.get_name(), key.get_base64(), fingerprint(key))
            self._authenticate(transport)
        except paramiko.AuthenticationException as exc:
            transport.close()
            raise AuthenticationFailed(
                f"node '{t.node}': login as '{t.username}' refused ({exc}); check the user name, key or password "
                f"(labdeck node add ... to change them)") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            raise NodeUnreachable(f"node '{t.node}': SSH handshake with {t.host}:{t.port} failed ({exc})") from exc
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(KEEPALIVE_S)
        _rekey_like_openssh(transport)
        ssh_exit_signal.install(transport)
        return transport

    def tunnel(self, target: SshTarget, timeout: float) -> paramiko.Channel:
        """A TCP stream from this host to ``target`` (as ``ssh -J`` opens one): the next hop's
        or the node's SSH traffic runs inside it, with its own host-key check and login."""
        for attempt in (1, 2):
            tr = self.transport()
            try:
                return tr.open_channel("direct-tcpip", (target.host, target.port), ("127.0.0.1", 0), timeout=timeout)
            except paramiko.ChannelException as exc:  # the jump host answered: it cannot reach the target
                raise NodeUnreachable(f"node '{target.node}': jump host '{self.target.node}' cannot connect to "
                                      f"{target.host}:{target.port} ({exc.text or exc})") from exc
            except (paramiko.SSHException, OSError, EOFError) as exc:
                self.drop()
                if attempt == 2:
                    raise NodeUnreachable(f"node '{target.node}': jump host '{self.target.node}' stopped answering "
                                          f"({exc or type(exc).__name__})") from exc
        raise AssertionError("unreachable")

    def _authenticate(self, transport: paramiko.Transport) -> None:
        t = self.target
        if t.key_file:
            try:
                key = paramiko.PKey.from_path(Path(t.key_file).expanduser(), t.passphrase)
            except FileNotFoundError as exc:
                raise AuthenticationFailed(f"node '{t.node}': key file {t.key_file} does not exist") from exc
            except paramiko.PasswordRequiredException as exc:
                raise AuthenticationFailed(
                    f"node '{t.node}': key file {t.key_file} is encrypted; save its passphrase with "
                    f"labdeck node add ... --password-stdin") from exc
            except paramiko.SSHException as exc:
                raise AuthenticationFailed(f"node '{t.node}': cannot read key file {t.key_file} ({exc})") from exc
            transport.auth_publickey(t.username, key)
            return
        if t.password is not None:
            transport.auth_password(t.username, t.password)
            return
        for key in _agent_and_default_keys():
            try:
                transport.auth_publickey(t.username, key)
                return
            except paramiko.AuthenticationException:
                continue
        raise paramiko.AuthenticationException("no key file or password is set for this node "
                                               "and no agent key was accepted")

    def transport(self) -> paramiko.Transport:
        """The live transport, connecting (or reconnecting once) if needed."""
        with self._lock:
            tr = self._transport
            if tr is not None and tr.is_active() and time.monotonic() - self._last_ok < IDLE_CHECK_AFTER_S:
                return tr
            if tr is not None and tr.is_active() and self._healthy(tr):
                self._last_ok = time.monotonic()
                return tr
            if tr is not None:
                tr.close()
            self._transport = None
            self._transport = self._connect()
            self._last_ok = time.monotonic()
            return self._transport

    def _healthy(self, tr: paramiko.Transport) -> bool:
        try:
            chan = tr.open_session(timeout=5)
            chan.close()
            return True
        except (paramiko.SSHException, OSError, EOFError):
            return False

    def mark_ok(self) -> None:
        self._last_ok = time.monotonic()

    def is_connected(self) -> bool:
        return self._transport is not None and self._transport.is_active()

    # ---- channels ----------------------------------------------------------------------

    def open_session(self, limited: bool = True, window_size: int | None = None,
                     max_packet_size: int | None = None, timeout: float | None = None) -> paramiko.Channel:
        """A new session channel; on a dead connection, reconnect once and try again.
        ``limited`` channels count against MAX_CHANNELS (kill and probe channels do not);
        bulk-data channels ask for a larger window and packets. ``timeout`` bounds the wait
        for the node to open it (default: the connect timeout)."""
        if limited:
            self._channels.acquire()
        try:
            for attempt in (1, 2):
                tr = self.transport()
                try:
                    chan = tr.open_session(window_size=window_size, max_packet_size=max_packet_size,
                                           timeout=timeout or self._connect_timeout)
                    # The node just answered: no health check (whose failure under load would
                    # close a busy connection under its other channels) is due for a while.
                    self.mark_ok()
                    break
                except (paramiko.SSHException, OSError, EOFError) as exc:
                    with self._lock:
                        if self._transport is tr:
                            tr.close()
                            self._transport = None
                    if attempt == 2:
                        raise NodeUnreachable(f"node '{self.target.node}': cannot open an SSH session ({exc})") from exc
        except BaseException:
            if limited:
                self._channels.release()
            raise
        if limited:
            _release_on_close(chan, self._channels)
        return chan

    def sftp(self) -> paramiko.SFTPClient:
        """An SFTP session; on a dead connection (a node that restarted), reconnect once. A live
        connection whose server refuses the ``sftp`` subsystem raises SftpUnavailable."""
        for attempt in (1, 2):
            tr = self.transport()
            try:
                chan = tr.open_session(timeout=self._connect_timeout)
                try:
                    chan.invoke_subsystem("sftp")
                except paramiko.SSHException as exc:
                    chan.close()
                    if tr.is_active():
                        raise SftpUnavailable(
                            f"node '{self.target.node}': the node's sshd has no SFTP subsystem, which LabDeck "
                            "needs to move files there; add 'Subsystem sftp internal-sftp' to its sshd_config "
                            "and restart sshd") from exc
                    raise
                return paramiko.SFTPClient(chan)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                with self._lock:
                    if self._transport is tr:
                        tr.close()
                        self._transport = None
                if attempt == 2:
                    raise NodeUnreachable(f"node '{self.target.node}': cannot open SFTP ({exc})") from exc
        raise AssertionError("unreachable")

    def run_quick(self, command: str, timeout: float = 20, drop_on_failure: bool = False) -> str:
        """A short helper command (kill, probe, status); its stdout as text. NodeUnreachable when
        the node does not answer within ``timeout``; ``drop_on_failure`` then also forgets the
        connection, so the next call connects afresh."""
        chan = self.open_session(limited=False, timeout=timeout)
        try:
            chan.settimeout(timeout)
            chan.exec_command(command)
            out = bytearray()
            while data := chan.recv(65536):
                out += data
            chan.status_event.wait(timeout)
            transport = chan.get_transport()
            if chan.exit_status == -1 and (transport is None or not transport.is_active()):
                # the connection was closed under the command (this process dropped it, or it
                # died): its output so far is not its answer (a status poll would read "gone")
                raise EOFError("the connection closed before the command ended")
            self.mark_ok()
            return out.decode("utf-8", errors="replace")
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if drop_on_failure:
                self.drop()
            raise NodeUnreachable(f"node '{self.target.node}': no answer to a helper command "
                                  f"({exc or type(exc).__name__})") from exc
        finally:
            chan.close()

    def drop(self) -> None:
        """Forget a connection that stopped answering, so the next use connects afresh
        (a link that went down can leave the old TCP connection stuck for minutes)."""
        with self._lock:
            tr, self._transport = self._transport, None
        if tr is not None:
            tr.close()

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
                self._transport = None


FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr")


def _prefer_fast_ciphers(transport: paramiko.Transport) -> None:
    """AES-GCM first: it needs no separate HMAC pass, which in paramiko is per-packet Python
    work — file copies run ~1.5x faster than with aes128-ctr (bench/bench_transfer.py)."""
    options = transport.get_security_options()
    offered = list(options.ciphers)
    options.ciphers = tuple([c for c in FAST_CIPHERS if c in offered] + [c for c in offered if c not in FAST_CIPHERS])


AES_REKEY_BYTES = 1 << 36  # 2**32 cipher blocks of 16 bytes: RFC 4344's limit for AES, and OpenSSH's default


def _rekey_like_openssh(transport: paramiko.Transport) -> None:
    """paramiko rekeys every 512 MiB. If the server closes a channel (a finished download)
    while that key exchange runs, paramiko's own reader thread waits 30 s for the exchange it
    is supposed to be processing, then gives up ("Key-exchange timed out"). With AES, rekey
    after 64 GiB as OpenSSH does: big transfers no longer stall every 512 MiB."""
    remote_cipher = getattr(transport, "remote_cipher", "")  # set by paramiko's kex; not in its stubs
    if (transport.local_cipher or "").startswith("aes") and (remote_cipher or "").startswith("aes"):
        transport.packetizer.REKEY_BYTES = AES_REKEY_BYTES


def _release_on_close(chan: paramiko.Channel, semaphore: threading.BoundedSemaphore) -> None:
    original_close = chan.close
    released = threading.Event()

    def close() -> None:
        original_close()
        if not released.is_set():
            released.set()
            semaphore.release()

    chan.close = close  # type: ignore[method-assign]


def _agent_and_default_keys():
    try:
        yield from paramiko.Agent().get_keys()
    except Exception:  # noqa: BLE001 - no agent running: fall through to key files
        pass
    ssh_dir = Path.home() / ".ssh"
    for name in ("id_ed25519", "id_ecdsa", "id_rsa"):
        path = ssh_dir / name
        if path.exists():
            try:
                yield paramiko.PKey.from_path(path)
            except paramiko.SSHException:
                continue
