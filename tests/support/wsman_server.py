"""A WS-Management test server that speaks WinRM's shell protocol to pywinrm, on loopback.

A fake, because Windows cannot run here; everything on the client side (pywinrm's Protocol,
requests, LabDeck's executor) is the real code. It serves HTTP/1.1 with keep-alive on
``127.0.0.1`` (a ``ThreadingHTTPServer``; HTTPS when given a certificate), requires HTTP Basic
auth or, with ``auth="negotiate"``, Windows' NTLM handshake and HTTP message encryption
(tests/support/wsman_auth.py says exactly what of them it does; ``exchanges`` records each
request's connection, authentication and sealing), and answers the SOAP envelopes pywinrm
sends, with the envelopes Windows sends back:

- **Create** (transfer/Create on the cmd shell resource): a shell with its environment
  variables; the reply carries the ShellId selector.
- **Command**: starts the command line as a local process (see tests/support/wsman_emulation.py
  for how cmd/PowerShell command lines become Linux processes); replies with a CommandId.
- **Receive**: at most the output that fits the request's ``MaxEnvelopeSize`` (pywinrm asks
  for 153,600 bytes); held until the command has output or has ended, or until the request's
  ``OperationTimeout`` passes, when it answers with the fault Windows sends (HTTP 500,
  subcode ``w:TimedOut``, WSManFault code 2150858793, which pywinrm raises as
  WinRMOperationTimeoutError). Output is base64 in ``rsp:Stream`` elements; the end is
  ``CommandState/Done`` with an ``ExitCode``.
- **Send**: base64 stdin data to the command, ``End="true"`` closes its stdin. Any request
  larger than MaxEnvelopeSizekb (500 KB by default) gets HTTP 413, as from Windows.
- **Signal**: ``terminate`` ends the command's process (only that process: its children are
  left, as on Windows, where only a job object or taskkill /T reaches them); ``ctrl_c`` sends
  SIGINT to its process group.
- **Delete**: ends the shell and its commands, and every process started in the shell, however
  it left its command's process tree: Windows keeps a shell's processes in a job object, which a
  child joins at birth and stays in when its parent exits. Here each process started in a shell
  carries ``WSMAN_TEST_SHELL_JOB=<shell id>`` in its environment, inherited as job membership
  is, and Delete kills every process that carries it (one that clears its environment leaves,
  as a process created to break away from the job does on Windows).

Faults are worded as Windows words them: ``s:Sender`` (the client's mistake) or ``s:Receiver``,
a ``w:FaultDetail`` where Windows gives one, a generic ``s:Reason`` and the useful text in
``s:Detail/f:WSManFault/f:Message`` with its ``Code``. A request for an unknown shell gets the
"shell not found" fault (2150858843) Windows sends after an idle timeout; so does a Receive,
Send or Signal for an unknown CommandId. ``time_out["command"] = n`` answers the next n requests
of that action (any of create, command, send, signal, receive, delete) with ``w:TimedOut``
(2150858793), as from a node too busy to answer within the request's OperationTimeout;
``open_shells`` counts the shells not deleted, so a test can prove none leaked. Receive replies
carry stdout and stderr as separate, interleaved ``rsp:Stream`` elements in the order the output
came, and the PowerShell stand-ins write errors to stderr as CLIXML (tests/support/
wsman_command.py); the Create reply carries the ``rsp:Shell`` details Windows returns. ``stop()``
closes the listening socket and every open connection, so a client in
the middle of a Receive sees the connection reset, as when a node goes down.
``drop_connections()`` resets the open connections and keeps the shells, as when the node
closes kept-alive connections left idle (HTTP.sys does after 2 minutes; this server never does
on its own), so a client must connect, and with NTLM log in, again.

Not emulated: cmd.exe and PowerShell themselves (commands run with /bin/sh; the executor's
Windows command construction is unit-tested as strings), code pages (bytes pass through),
Kerberos and CredSSP (see wsman_auth.py), quotas
(MaxShellsPerUser and friends are only reported, through the preflight helper), the shell
IdleTimeout, job objects, Enumerate/Get/Put (WMI and config resources), and PSRP. Wine's cmd
was considered and left out: Debian's ``wine`` pulls in 24 packages (libwine alone is about
670 MB installed) for every CI machine, for cmd semantics the unit tests already pin down.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import re
import signal
import socket
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

from tests.support import wsman_auth, wsman_emulation
from tests.support.wsman_command import Command, kill_group
from tests.support.wsman_replies import (
    INVALID_SELECTORS_REASON,
    INVALID_VALUE_DETAIL,
    NS,
    SHELL_NOT_FOUND_CODE,
    SHELL_NS,
    Fault,
    envelope,
    fault_body,
    timed_out,
)

ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "delete",
    f"{SHELL_NS}/Command": "command",
    f"{SHELL_NS}/Receive": "receive",
    f"{SHELL_NS}/Send": "send",
    f"{SHELL_NS}/Signal": "signal",
}
MAX_ENVELOPE_SIZE = 500 * 1024  # MaxEnvelopeSizekb's default
DEFAULT_QUOTAS = {"MaxShellsPerUser": "30", "MaxMemoryPerShellMB": "2147483647", "IdleTimeout": "7200000",
                  "MaxProcessesPerShell": "2147483647"}


SHELL_JOB_VARIABLE = "WSMAN_TEST_SHELL_JOB"


def kill_job_members(shell_id: str) -> None:
    """SIGKILL every process whose environment says it was started in this shell (see Delete)."""
    entry = f"{SHELL_JOB_VARIABLE}={shell_id}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            members = entry in environ.read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours
            continue
        if members:
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(environ.parent.name), signal.SIGKILL)


class Shell:
    def __init__(self, env: dict[str, str]):
        self.id = str(uuid.uuid4()).upper()
        self.env = env
        self.commands: dict[str, Command] = {}


class WsmanServer:
    def __init__(self, root: Path, username: str = "labuser", password: str = "Lab-Pass-1",
                 quotas: dict[str, str] | None = None, certificate: tuple[Path, Path] | None = None,
                 auth: str = "basic"):
        if auth not in wsman_auth.AUTHS:
            raise ValueError(f"auth must be one of {wsman_auth.AUTHS}")
        self.root = Path(root)
        self.auth = auth
        self.certificate = certificate  # (cert PEM, key PEM): serve HTTPS
        self.username, self.password = username, password
        self.quotas = DEFAULT_QUOTAS | (quotas or {})
        self.max_envelope = MAX_ENVELOPE_SIZE
        self.shells: dict[str, Shell] = {}
        self.lock = threading.Lock()
        self.requests: list[str] = []  # actions served, for tests that count round trips
        self.signals: list[tuple[str, str, bool]] = []  # (command id, code, its end already received)
        self.codepages: list[str] = []  # WINRS_CODEPAGE of each shell created
        self.deleted: list[str] = []  # ids of the shells deleted, in order
        self.exchanges: list[wsman_auth.Exchange] = []  # every request: connection, auth, sealing, status
        self.unsealable_status = 400  # the answer to a message it cannot unseal (see wsman_auth.py)
        # time_out["command"] = 2: the next two Command requests get the w:TimedOut fault instead of
        # being done, as from a node too busy to answer within the request's OperationTimeout
        # (any action: create, command, send, signal, receive, delete); answered after
        # min(OperationTimeout, time_out_after_s) so tests need not wait the whole timeout.
        self.time_out: dict[str, int] = {}
        self.time_out_after_s = 0.2
        self._connection_numbers = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._http: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.certificate else 'http'}://{self.host}:{self.port}/wsman"

    def start(self) -> WsmanServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._http = ThreadingHTTPServer((self.host, self.port), Handler)
        self._http.daemon_threads = True
        if self.certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, self.certificate))
            self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down like a switched-off node: no listener, every connection reset, processes gone."""
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        self._http = None
        self.drop_connections()
        with self.lock:
            shells, self.shells = list(self.shells.values()), {}
        for shell in shells:
            for command in shell.commands.values():
                kill_group(command.proc.pid)

    # ---- operations ----------------------------------------------------------------------

    @property
    def powershell_v2(self) -> bool:
        """PowerShell 2.0: the probe says so, and a launched PowerShell ends only once its stdin
        is closed (see wsman_command)."""
        return self.quotas.get("PowerShellVersion") == "2"

    @powershell_v2.setter
    def powershell_v2(self, on: bool) -> None:
        self.quotas["PowerShellVersion"] = "2" if on else "5"

    @property
    def open_shells(self) -> int:
        """Shells created and not deleted (a client that drops one without a Delete leaks it
        until the node's IdleTimeout)."""
        with self.lock:
            return len(self.shells)

    def _maybe_time_out(self, name: str | None, header: ET.Element) -> None:
        with self.lock:
            left = self.time_out.get(name or "", 0)
            if left > 0:
                self.time_out[name] = left - 1
        if left > 0:
            time.sleep(min(_operation_timeout(header), self.time_out_after_s))
            raise timed_out()

    def handle(self, action: str, root: ET.Element) -> str:
        header = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        name = ACTIONS.get(action)
        self.requests.append(name or action)
        self._maybe_time_out(name, header)
        if name == "create":
            option = header.find("w:OptionSet/w:Option[@Name='WINRS_CODEPAGE']", NS)
            self.codepages.append(option.text if option is not None else "")
            env = {v.get("Name"): v.text or "" for v in body.iter(f"{{{SHELL_NS}}}Variable")}
            shell = Shell(env)
            with self.lock:
                self.shells[shell.id] = shell
            return (f'<x:ResourceCreated><a:Address>{self.endpoint}</a:Address><a:ReferenceParameters>'
                    f'<w:ResourceURI>{SHELL_NS}/cmd</w:ResourceURI><w:SelectorSet>'
                    f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
                    f'</x:ResourceCreated>{self._shell_details(shell, body)}')
        shell = self._shell(header)
        if name == "delete":
            with self.lock:
                self.shells.pop(shell.id, None)
                self.deleted.append(shell.id)
            for command in shell.commands.values():
                kill_group(command.proc.pid)
            kill_job_members(shell.id)
            return ""
        if name == "command":
            line = body.find("rsp:CommandLine", NS)
            command_text = line.findtext("rsp:Command", "", NS)
            arguments = line.findtext("rsp:Arguments", "", NS)
            plan = wsman_emulation.plan_command(command_text, arguments, self.root, self.quotas)
            command = Command(wsman_emulation.start(plan, self.root, shell.env | {SHELL_JOB_VARIABLE: shell.id}),
                              plan.pid_mark,
                              clixml_stderr=plan.clixml_stderr, hold_exit_for_stdin=self.powershell_v2 and plan.launch)
            shell.commands[command.id] = command
            return f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"
        if name == "receive":
            stream = body.find("rsp:Receive/rsp:DesiredStream", NS)
            command = self._command(shell, stream.get("CommandId"))
            got = command.take(_operation_timeout(header), _reply_budget(header))
            self._shell(header)  # a shell closed meanwhile answers its pending Receive with a fault
            if got is None:
                raise timed_out()
            chunks, code = got
            done = code is not None
            parts = [f'<rsp:Stream Name="{n}" CommandId="{command.id}">{base64.b64encode(d).decode()}</rsp:Stream>'
                     for n, d in chunks]
            if done:
                command.end_received = True
                parts += [f'<rsp:Stream Name="{n}" CommandId="{command.id}" End="true"></rsp:Stream>'
                          for n in ("stdout", "stderr")]
                parts.append(f'<rsp:CommandState CommandId="{command.id}" State="{SHELL_NS}/CommandState/Done">'
                             f'<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>')
            else:
                parts.append(f'<rsp:CommandState CommandId="{command.id}" State="{SHELL_NS}/CommandState/Running"/>')
            return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
        if name == "send":
            stream = body.find("rsp:Send/rsp:Stream", NS)
            command = self._command(shell, stream.get("CommandId"))
            command.write_stdin(base64.b64decode(stream.text or ""), stream.get("End", "").lower() == "true")
            return "<rsp:SendResponse/>"
        if name == "signal":
            element = body.find("rsp:Signal", NS)
            command = self._command(shell, element.get("CommandId"))
            code = element.findtext("rsp:Code", "", NS)
            self.signals.append((command.id, code.rsplit("/", 1)[-1], command.end_received))
            if code.endswith("/ctrl_c"):
                command.ctrl_c()
            else:
                command.terminate()
                shell.commands.pop(command.id, None)
            return "<rsp:SignalResponse/>"
        raise Fault("a:ActionNotSupported", 2150858754, f"unsupported action {action}")

    def drop_connections(self) -> None:
        """Reset every open connection (shells stay), as when the node drops idle kept-alive ones."""
        with self.lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def expire_shells(self) -> None:
        """Close every shell, as Windows does after a shell's IdleTimeout: its processes end with it."""
        with self.lock:
            shells, self.shells = list(self.shells.values()), {}
        for shell in shells:
            for command in shell.commands.values():
                kill_group(command.proc.pid)

    def _shell(self, header: ET.Element) -> Shell:
        selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        with self.lock:
            shell = self.shells.get(selector.text if selector is not None else "")
        if shell is None:
            raise Fault("w:InvalidSelectors", SHELL_NOT_FOUND_CODE,
                        f"The request for the Windows Remote Shell with ShellId "
                        f"{selector.text if selector is not None else ''} failed because the shell was not found on "
                        f"the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
                        f"exists on the server. Provide the correct ShellId or create a new shell and retry the "
                        f"operation. ", INVALID_SELECTORS_REASON, sender=True, detail=INVALID_VALUE_DETAIL)
        return shell

    def _command(self, shell: Shell, command_id: str | None) -> Command:
        command = shell.commands.get(command_id or "")
        if command is None:
            raise Fault("w:InvalidSelectors", SHELL_NOT_FOUND_CODE,
                        "The Windows Remote Shell received a request to perform an operation on a command "
                        "identifier that does not exist. Either the command has completed execution or the client "
                        "specified an invalid command identifier. ", INVALID_SELECTORS_REASON, sender=True,
                        detail=INVALID_VALUE_DETAIL)
        return command

    def _shell_details(self, shell: Shell, body: ET.Element) -> str:
        """The ``rsp:Shell`` Windows returns with a Create: the shell's id, resource, owner,
        client, streams and timeouts."""
        asked = body.find("rsp:Shell", NS)
        idle = asked.findtext("rsp:IdleTimeOut", "", NS) if asked is not None else ""
        idle = idle or f"PT{int(self.quotas.get('IdleTimeout', '7200000')) / 1000:.3f}S"
        return (f'<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId><rsp:ResourceUri>{SHELL_NS}/cmd</rsp:ResourceUri>'
                f'<rsp:Owner>{escape(self.username)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>'
                f'<rsp:IdleTimeOut>{escape(idle)}</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>'
                f'<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>'
                f'<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>')


def _operation_timeout(header: ET.Element) -> float:
    match = re.fullmatch(r"PT([\d.]+)S", header.findtext("w:OperationTimeout", "PT60S", NS))
    return float(match.group(1)) if match else 60.0


def _reply_budget(header: ET.Element) -> int:
    """Output bytes that fit in a reply of the request's MaxEnvelopeSize, as base64 with the XML
    around it (Windows splits longer output over several Receives)."""
    return (int(header.findtext("w:MaxEnvelopeSize", "153600", NS)) - 4096) * 3 // 4


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: WsmanServer

    def setup(self) -> None:
        super().setup()
        # Windows' HTTP.sys sends a reply at once; without this, headers and body in two writes
        # meet the client's delayed ACK and every request waits 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner.lock:
            self.owner._connections.add(self.connection)
        self.number = next(self.owner._connection_numbers)
        self.gate = wsman_auth.ConnectionAuth(self.owner, tls=self.owner.certificate is not None)

    def finish(self) -> None:
        with self.owner.lock:
            self.owner._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length) if length else b""
        if length > self.owner.max_envelope:  # Windows refuses a request over MaxEnvelopeSizekb
            # HTTP.sys answers before WinRM reads (or unseals) it
            self._record(self.gate.scheme, "", self.headers.get("Content-Type", "").startswith("multipart/encrypted"),
                         413)
            self._reply(413, b"")
            return
        try:
            request = self.gate.admit(self.headers, data)
        except wsman_auth.Refusal as refusal:
            self._record(self.gate.scheme, "", False, refusal.status)
            self._reply(refusal.status, b"", headers=refusal.headers)
            return
        if not request.envelope:  # an empty POST: pywinrm's handshake before encrypting
            self._record(request.scheme, "", request.encrypted, 200)
            self._reply(200, b"", headers=request.headers)
            return
        root = ET.fromstring(request.envelope)
        action = root.findtext("s:Header/a:Action", "", NS)
        message_id = root.findtext("s:Header/a:MessageID", "", NS)
        try:
            status, reply = 200, envelope(action + "Response", message_id, self.owner.handle(action, root))
        except Fault as fault:
            status, reply = 500, envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", message_id,
                                          fault_body(fault))
        self._record(request.scheme, ACTIONS.get(action, action), request.encrypted, status)
        self._reply(status, *self.gate.seal(reply, request.encrypted), request.headers)

    def _record(self, scheme: str | None, action: str, encrypted: bool, status: int) -> None:
        self.owner.exchanges.append(wsman_auth.Exchange(self.number, scheme, action, encrypted, status))

    def _reply(self, status: int, payload: bytes, content_type: str = wsman_auth.SOAP_CONTENT_TYPE,
               headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


def main() -> None:
    """``python -m tests.support.wsman_server ROOT [basic|negotiate]``: serve until stdin closes;
    prints the port."""
    import sys

    server = WsmanServer(Path(sys.argv[1]), auth=sys.argv[2] if len(sys.argv) > 2 else "basic").start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()


def open_commands(server) -> int:
    with server.lock:
        return sum(len(shell.commands) for shell in server.shells.values())
