"""WinRM shells of one node, at pywinrm's ``Protocol`` level.

A ``RemoteShell`` is one open shell plus the ``Protocol`` (HTTP connection, authentication and
message-encryption context) it was opened with; one thread uses it at a time, so NTLM's
sealing sequence numbers never interleave. ``ShellPool`` keeps a node's idle shells for reuse
(opening a shell is the expensive part of a WinRM command), starts commands on them and, when a
pooled shell turns out stale (the node's IdleTimeout closed it, the kept-alive connection
died), reopens once; a pooled shell whose sealed connection sat idle gets a fresh connection
and login first (see winrm_release: the node would not read a message sealed for the old one).
Every pywinrm and requests failure becomes NodeUnreachable, AuthenticationFailed or another
LabDeckError with a message saying what to do.

Receives are single calls (not pywinrm's loop, which retries forever): the caller keeps the
deadline. Each
one asks the node to answer within ``wait_s`` (the WS-Man OperationTimeout) and the HTTP read
gives up ``RECEIVE_SLACK_S`` after that, so a silent node is noticed in bounded time.

Windows answers *any* operation it cannot finish within the request's OperationTimeout with the
fault 2150858793 (``w:TimedOut``), which pywinrm raises as ``WinRMOperationTimeoutError`` (not a
``WinRMError``). For a Receive that only means "no output yet"; Signal and Delete are
idempotent and are tried once more; a Create, Command or Send is not (it may have been done):
it raises ``OperationTimedOut``, the caller deletes the shell (a command that did start ends
with it) and the user reads "the node did not answer within its OperationTimeout".

A Send the node refuses with HTTP 413 (over MaxEnvelopeSizekb) never reached WinRM, but with
NTLM message encryption pywinrm had already sealed it, so the client's sealing sequence is one
ahead of the node's: the shell logs in on a new connection before its next message.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import requests
from winrm.exceptions import (AuthenticationError, WinRMError, WinRMOperationTimeoutError, WinRMTransportError,
                              WSManFaultError)
from winrm.protocol import Protocol

from ...core.errors import AuthenticationFailed, InvalidInput, LabDeckError, NodeUnreachable
from . import soap
from .faults import SHELL_NOT_FOUND, fault_text
from .release import CommandReleaser, stale_sealed_session

CONNECT_READ_TIMEOUT_S = 30
RECEIVE_SLACK_S = 10
CLOSE_TIMEOUT_S = 3
MAX_IDLE_SHELLS = 4
SHELL_URI = soap.SHELL_URI
COMMAND_ACTION = f"{soap.SHELL_NS}/Command"
RECEIVE_ACTION = f"{soap.SHELL_NS}/Receive"
SIGNAL_ACTION = soap.SIGNAL_ACTION
SEND_ACTION = f"{soap.SHELL_NS}/Send"
SIGNAL_TERMINATE = soap.SIGNAL_TERMINATE
SIGNAL_CTRL_C = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"
PYWINRM_AUTH = {"ntlm": "ntlm", "basic": "basic", "kerberos": "kerberos", "credssp": "credssp"}


class OperationTimedOut(WinRMError):
    """The node answered ``w:TimedOut`` to a Create, Command or Send (see the module doc)."""


WINRM_FAILURES = (WinRMError, WinRMTransportError, requests.RequestException, OSError)


@dataclass
class WinrmTarget:
    node: str
    host: str
    port: int
    username: str
    password: str | None    # from the keyring, never stored elsewhere
    auth: str = "ntlm"
    https: bool = False
    verify_cert: bool = True
    codepage: int = 65001

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}/wsman"


def translate(exc: BaseException, target: WinrmTarget, doing: str) -> LabDeckError:
    """A pywinrm/requests failure as the LabDeck error a user can act on."""
    where = f"node '{target.node}' ({target.endpoint})"
    if isinstance(exc, LabDeckError):
        return exc
    if isinstance(exc, AuthenticationError) and not target.password and target.auth != "kerberos":
        return AuthenticationFailed(f"{where}: no password is saved for '{target.username}'; save it with "
                                    "labdeck node add ... --password-stdin (or in the node dialog)")
    if isinstance(exc, AuthenticationError):
        return AuthenticationFailed(
            f"{where}: WinRM login as '{target.username}' ({target.auth}) was refused; check the user name and "
            f"password, and that the account may use WinRM (Administrators or Remote Management Users)")
    if isinstance(exc, requests.exceptions.SSLError):
        return LabDeckError(
            f"{where}: the node's HTTPS certificate is not trusted ({_short(exc)}); install its CA on this "
            f"computer, or, for a self-signed certificate you trust, turn certificate checking off for this node "
            f"(--no-verify-cert)")
    if isinstance(exc, requests.Timeout):
        return NodeUnreachable(f"{where}: no answer while {doing}")
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, OSError)):
        return NodeUnreachable(f"{where}: connection failed while {doing} ({_short(exc)})")
    if isinstance(exc, OperationTimedOut):
        return NodeUnreachable(f"{where}: the node did not answer within its OperationTimeout while {doing}; "
                               f"it is overloaded or its WinRM service is stuck")
    if isinstance(exc, WSManFaultError):
        return LabDeckError(f"{where}: WinRM refused {doing}: {fault_text(exc)}")
    if isinstance(exc, WinRMTransportError) and exc.code == 413:
        return LabDeckError(f"{where}: WinRM refused a message over the node's MaxEnvelopeSizekb while {doing}; "
                            f"raise it on the node (winrm set winrm/config @{{MaxEnvelopeSizekb=\"500\"}})")
    if isinstance(exc, WinRMTransportError):
        return NodeUnreachable(f"{where}: HTTP {exc.code} while {doing}")
    if isinstance(exc, WinRMError) and "not installed" in str(exc):
        extra = {"kerberos": "pywinrm[kerberos]", "credssp": "pywinrm[credssp]"}.get(target.auth, "pywinrm")
        return InvalidInput(f"{where}: {target.auth} authentication needs {extra} installed on this computer")
    return LabDeckError(f"{where}: WinRM error while {doing}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


def make_protocol(target: WinrmTarget) -> Protocol:
    protocol = Protocol(
        target.endpoint, transport=PYWINRM_AUTH[target.auth], username=target.username,
        password=target.password or "",
        server_cert_validation="validate" if target.verify_cert else "ignore",
        # requests' CA bundle, or the one named the way requests reads it (a lab's own CA)
        ca_trust_path=os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None,
        read_timeout_sec=CONNECT_READ_TIMEOUT_S, operation_timeout_sec=CONNECT_READ_TIMEOUT_S - 10,
        message_encryption="auto",  # sealed over HTTP where the auth can (ntlm, kerberos, credssp)
    )
    open_session(protocol)
    return protocol


def open_session(protocol: Protocol) -> None:
    """Connect and log in (with NTLM over HTTP, pywinrm runs the handshake for sealing here)."""
    # pywinrm reads proxies and the CA bundle from the environment once, here; left on, requests
    # would scan the environment (and look for ~/.netrc) again on every message.
    protocol.transport.build_session().trust_env = False


class RemoteShell:
    """One open shell; not thread-safe (one user at a time, see ShellPool)."""

    def __init__(self, target: WinrmTarget):
        self.protocol = make_protocol(target)
        try:
            self.shell_id = self.protocol.open_shell(noprofile=True, codepage=target.codepage)
        except WinRMOperationTimeoutError as exc:
            # the shell may exist on the node, but its id never came: nothing to delete
            self.protocol.transport.close_session()
            raise OperationTimedOut("opening a shell") from exc
        except BaseException:
            self.protocol.transport.close_session()
            raise
        self.idle_since = time.monotonic()  # set when the shell goes back to the pool

    def reconnect_if_stale(self) -> None:
        """A new connection and login before reusing a sealed connection that sat idle."""
        if stale_sealed_session(self.protocol, self.idle_since):
            self.reconnect()

    @property
    def sealed(self) -> bool:
        return self.protocol.transport.encryption is not None

    def reconnect(self) -> None:
        self.protocol.transport.close_session()
        open_session(self.protocol)

    def _send(self, action: str, build, *args, wait_s: float = CONNECT_READ_TIMEOUT_S - 10) -> bytes:
        self.protocol.operation_timeout_sec = wait_s
        self.protocol.transport.read_timeout_sec = wait_s + RECEIVE_SLACK_S
        header = self.protocol.build_wsman_header(resource_uri=SHELL_URI, action=action, shell_id=self.shell_id)
        return self.protocol.send_message(soap.to_xml(build(header, *args)))

    def start(self, command: str, args: list[str]) -> str:
        """Start a command; its CommandId. Runs without cmd.exe (no 8K line limit, no cmd parsing)."""
        try:
            return soap.read_command_id(self._send(COMMAND_ACTION, soap.command_request, command, args))
        except WinRMOperationTimeoutError as exc:
            raise OperationTimedOut("starting a command") from exc

    def send(self, command_id: str, data: bytes, end: bool = False) -> None:
        try:
            self._send(SEND_ACTION, soap.send_request, command_id, data, end)
        except WinRMOperationTimeoutError as exc:
            raise OperationTimedOut("sending input") from exc
        except WinRMTransportError as exc:
            if exc.code == 413 and self.sealed:
                self.reconnect()  # the refused message used up a sealing sequence number the node never saw
            raise

    def receive(self, command_id: str, wait_s: float) -> tuple[bytes, bytes, int, bool] | None:
        """One Receive: (stdout, stderr, exit code, done), or None if nothing came within ``wait_s``."""
        try:
            reply = self._send(RECEIVE_ACTION, soap.receive_request, command_id, wait_s=max(1, int(wait_s)))
        except WinRMOperationTimeoutError:
            return None
        return soap.read_receive(reply)

    def signal(self, command_id: str, code: str = SIGNAL_TERMINATE) -> None:
        for last_try in (False, True):
            try:
                self._send(SIGNAL_ACTION, soap.signal_request, command_id, code)
                return
            except WinRMOperationTimeoutError as exc:  # idempotent: once more
                if last_try:
                    raise OperationTimedOut("signalling a command") from exc

    def close(self, delete: bool = True) -> bool:
        """Delete the shell (best effort, briefly: the node may be gone, and then the shell ends
        with its idle timeout) and drop the connection. False if the node did not answer."""
        try:
            if delete:
                self.protocol.transport.read_timeout_sec = CLOSE_TIMEOUT_S
                self.protocol.operation_timeout_sec = 1
                self.reconnect_if_stale()
                try:
                    self._delete()
                except (WinRMTransportError, AuthenticationError):
                    if not self.sealed:
                        raise
                    # An answer, not a Delete: most likely the node could not unseal a message sealed
                    # for a connection it had dropped (see winrm_release). Once more, logged in afresh.
                    self.reconnect()
                    self._delete()
                return True
        except Exception:  # noqa: BLE001
            pass
        self.protocol.transport.close_session()
        return False


    def _delete(self) -> None:
        try:
            self.protocol.close_shell(self.shell_id, close_session=False)
        except WinRMOperationTimeoutError:  # idempotent: once more
            self.protocol.close_shell(self.shell_id, close_session=False)
        self.protocol.transport.close_session()


def shell_gone(exc: BaseException) -> bool:
    """Whether a failure says the shell (or its command) no longer exists on the node: closed by
    its IdleTimeout, by MaxShellRunTime, or by a restart of the WinRM service."""
    return isinstance(exc, WSManFaultError) and exc.wsman_fault_code == SHELL_NOT_FOUND


class ShellPool:
    def __init__(self, target: WinrmTarget, max_commands: int = 8):
        self.target = target
        self._idle: list[RemoteShell] = []
        self._lock = threading.Lock()
        self._closed = False
        self.max_commands = max_commands
        self.command_slots = threading.BoundedSemaphore(max_commands)
        self.releaser = CommandReleaser(target.node, lambda: make_protocol(target))

    def _open(self) -> RemoteShell:
        try:
            return RemoteShell(self.target)
        except WINRM_FAILURES as exc:
            raise translate(exc, self.target, "opening a shell") from exc

    def start(self, command: str, args: list[str]) -> tuple[RemoteShell, str]:
        """A shell with ``command`` started on it: an idle one if there is one, else a new one.
        A pooled shell that fails is dropped and the command tried once on a fresh shell."""
        self.releaser.command_started()
        with self._lock:
            shell = self._idle.pop() if self._idle else None
        if shell is not None:
            try:
                shell.reconnect_if_stale()
                return shell, shell.start(command, args)
            except (WSManFaultError, requests.ConnectionError, WinRMTransportError):
                shell.close()  # stale: closed by the node's idle timeout, or the connection died
            except WINRM_FAILURES as exc:  # e.g. the password was changed: not worth a retry
                sealed = shell.sealed
                shell.close()
                # but a sealed message refused after requests_ntlm logged in on a new connection was
                # most likely unreadable to the node (see winrm_release): a fresh shell tells
                if not (sealed and isinstance(exc, AuthenticationError)):
                    raise translate(exc, self.target, "starting a command") from exc
        shell = self._open()
        try:
            return shell, shell.start(command, args)
        except WINRM_FAILURES as exc:
            shell.close()
            raise translate(exc, self.target, "starting a command") from exc

    def release(self, shell: RemoteShell, healthy: bool) -> None:
        with self._lock:
            keep = healthy and not self._closed and len(self._idle) < MAX_IDLE_SHELLS
            if keep:
                shell.idle_since = time.monotonic()
                self._idle.append(shell)
        if not keep:
            shell.close()

    def finish(self, shell: RemoteShell, command_id: str) -> None:
        """Return the shell of a command whose end has been received. The final Signal the
        protocol requires for it (MS-WSMV 3.1.4.14: Receive alone does not free it) goes out
        from the releaser's thread, so the shell is free for the next command at once."""
        if self.releaser.release(shell.shell_id, command_id):
            self.release(shell, True)
            return
        try:
            shell.signal(command_id)
        except WINRM_FAILURES:
            self.release(shell, False)
            return
        self.release(shell, True)

    def close(self) -> None:
        self.releaser.close(timeout=CLOSE_TIMEOUT_S)
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        answering = True
        for shell in idle:  # one silent node should not cost a timeout per shell
            answering = shell.close(delete=answering)
