"""Releasing finished WinRM commands off the critical path.

MS-WSMV (3.1.4.14) wants a terminate Signal for every command, even one whose end has been
received: until then the node keeps the command's resources. Sending it before handing the shell
to the next command costs a full round trip per command. A ``CommandReleaser`` sends those
Signals from one background thread over its own HTTP connection (its own Protocol, so NTLM or
Kerberos sealing never interleaves with the shell's connection), while the shell is already
back in the pool running the next command (MS-WSMV 3.1.4.12: a Signal "can be sent either
asynchronously or synchronously"; Windows addresses a command by shell and command id, not by
connection).

The thread waits until the node has started no command for ``IDLE_S`` before it sends, so on a
busy two-core controller the releases do not compete with the commands they were taken off;
once ``FLUSH_BACKLOG`` releases are waiting it sends them without waiting, and past
``MAX_BACKLOG`` the caller signals inline, so a node never holds many finished commands.
A release that fails is dropped: the node frees the command with its shell (deleted by LabDeck,
or ended by the node's IdleTimeout).

Windows closes a kept-alive connection left idle (HTTP.sys' IdleConnectionTimeout, 2 minutes by
default). With NTLM or Kerberos over HTTP, pywinrm seals a message before sending it; on the new
connection requests_ntlm logs in afresh and the node gets a message sealed with the old keys,
which it cannot read. So a sealed connection idle for ``IDLE_CONNECTION_S`` is replaced, with a
fresh login, before its next message (``stale_sealed_session``): here, and for the shells. A
connection dropped sooner shows as an HTTP answer (400 or 401) to a sealed message; a Signal
(or a shell's Delete) then goes once more over a fresh connection and login.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from winrm.exceptions import AuthenticationError, WinRMOperationTimeoutError, WinRMTransportError
from winrm.protocol import Protocol

from . import soap

IDLE_S = 0.05
IDLE_CONNECTION_S = 60.0
FLUSH_BACKLOG = 16
MAX_BACKLOG = 64
_STOP = object()


def stale_sealed_session(protocol: Protocol, idle_since: float) -> bool:
    """Whether the protocol seals its messages and its connection has been idle long enough that
    the node may have closed it (then it should be replaced before the next message)."""
    return protocol.transport.encryption is not None and time.monotonic() - idle_since > IDLE_CONNECTION_S


class CommandReleaser:
    """One per node; ``release`` queues (shell id, command id); ``close`` sends what is queued."""

    def __init__(self, node: str, connect: Callable[[], Protocol]):
        self.node = node
        self._connect = connect
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._protocol = None
        self._last_sent = 0.0
        self._last_start = 0.0
        self._flushing = False
        self._closed = False

    def command_started(self) -> None:
        self._last_start = time.monotonic()

    def release(self, shell_id: str, command_id: str) -> bool:
        """Queue the terminate Signal; False if the backlog is full (signal inline then)."""
        with self._lock:
            if self._closed or self._queue.qsize() >= MAX_BACKLOG:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"winrm-release-{self.node}",
                                                daemon=True)
                self._thread.start()
            self._queue.put((shell_id, command_id))
        return True

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far has been sent (or dropped)."""
        done = threading.Event()
        with self._lock:
            if self._thread is None:
                return
            self._flushing = True
            self._queue.put(done)
        done.wait(timeout)
        self._flushing = False

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._flushing = True
            self._queue.put(_STOP)
        thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._wait_for_idle()
            self._signal(*item)
        self._drop_connection()

    def _wait_for_idle(self) -> None:
        while not self._flushing and self._queue.qsize() < FLUSH_BACKLOG:
            quiet_for = time.monotonic() - self._last_start
            if quiet_for >= IDLE_S:
                return
            time.sleep(IDLE_S - quiet_for)

    def _signal(self, shell_id: str, command_id: str) -> None:
        if self._protocol is not None and stale_sealed_session(self._protocol, self._last_sent):
            self._drop_connection()
        for last_try in (False, True):
            try:
                if self._protocol is None:
                    self._protocol = self._connect()
                header = self._protocol.build_wsman_header(resource_uri=soap.SHELL_URI, action=soap.SIGNAL_ACTION,
                                                           shell_id=shell_id)
                message = soap.to_xml(soap.signal_request(header, command_id, soap.SIGNAL_TERMINATE))
                self._protocol.send_message(message)
                self._last_sent = time.monotonic()
                return
            except WinRMOperationTimeoutError:  # the node was too busy: a Signal may be sent again
                if last_try:
                    return
            except (WinRMTransportError, AuthenticationError):  # an HTTP answer, not the Signal's reply
                sealed = self._protocol is not None and self._protocol.transport.encryption is not None
                self._drop_connection()
                if not sealed or last_try:
                    return
                # most likely the node could not unseal it (its connection had been dropped): once more
            except Exception:  # noqa: BLE001 - a lost release is harmless (see above); the thread must live on
                self._drop_connection()  # a fresh connection for the next one
                return

    def _drop_connection(self) -> None:
        if self._protocol is not None:
            self._protocol.transport.close_session()
            self._protocol = None
