"""Authentication and HTTP message encryption of the WS-Management test server, as Windows does them.

One ``ConnectionAuth`` per HTTP connection turns a request into the SOAP envelope the server
answers (or an HTTP refusal) and seals the reply. The NTLM itself (NTLMv2 response, MIC,
sealing keys, sequence numbers) is pyspnego's acceptor. The client side (requests_ntlm) uses
pyspnego's initiator, so a mistake shared by both halves of that library would not show here;
what this module checks is everything around it that pywinrm and LabDeck do: the HTTP
handshake, which connection is logged in, and the sealed message framing.

- **Basic** (``auth="basic"``): every request carries ``Authorization: Basic``; anything else
  gets 401 with ``WWW-Authenticate: Basic realm="WSMAN"``. Plain SOAP is accepted over HTTP, as
  on a node set up with ``Basic=true`` and ``AllowUnencrypted=true`` (the only way Basic works
  over HTTP on Windows).
- **Negotiate** (``auth="negotiate"``, Windows' default service configuration): a request
  without credentials gets 401 with ``WWW-Authenticate: Negotiate``; the client's NTLM
  NEGOTIATE (raw, as Windows accepts it inside the Negotiate scheme; the ``NTLM`` scheme is
  accepted too) gets 401 with the CHALLENGE; the AUTHENTICATE is checked against the server's
  user name and password. As HTTP.sys does for Negotiate, the *connection* is then
  authenticated: later requests on it carry no Authorization header, and a new connection must
  authenticate again. A refused AUTHENTICATE gets 401 and a fresh offer.
- **Encryption** (MS-WSMV 2.2.9.1.1, ``AllowUnencrypted=false``): over HTTP, after the
  handshake, a request body must be ``multipart/encrypted;protocol="application/HTTP-SPNEGO-
  session-encrypted"``: a header part with ``OriginalContent: ...;Length=N``, then an
  ``application/octet-stream`` part holding a 4-byte little-endian signature length, the NTLM
  message signature and the sealed envelope. The server unseals it (a bad signature, sequence
  number or length gets ``unsealable_status``, 400 unless a test sets 401, and the connection
  loses its login) and seals its reply, faults included, the same way. A plain SOAP body on
  such a connection gets 401, as Windows answers clients that do not encrypt
  (hashicorp/packer#6205). An empty body is answered 200: pywinrm sends one to run the
  handshake before its first encrypted message.
- **HTTPS**: no message encryption (TLS protects the traffic; Windows accepts plain SOAP
  there) and channel binding is checked: the client's NTLMv2 response must carry the
  ``tls-server-end-point`` hash of the server's certificate (RFC 5929), as with
  ``CbtHardeningLevel=Strict``.

Not emulated: Kerberos and SPNEGO-wrapped Kerberos (there is no KDC; pyspnego's acceptor here
speaks NTLM only), CredSSP and its ``multipart/x-multi-encrypted`` chunks, certificate
authentication, domain controllers and local groups (one account per server: ``user`` or
``DOMAIN\\user``, a password without ``:``), the ``Kerberos``/``CredSSP`` offers in the 401,
and the exact status Windows uses for a message it cannot unseal (not known here: 400, or 401
when a test sets the server's ``unsealable_status``; LabDeck must cope with both).
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import shutil
import ssl
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

AUTHS = ("basic", "negotiate")
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
SESSION_ENCRYPTED = b"application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{SESSION_ENCRYPTED.decode()}";boundary="Encrypted Boundary"'
ENCRYPTED_BODY = re.compile(
    rb"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
    rb"\tOriginalContent: type=[^\r]*;Length=(\d+)\r\n--Encrypted Boundary\r\n"
    rb"\tContent-Type: application/octet-stream\r\n(.*)--Encrypted Boundary--\r\n\Z", re.S)
NEGOTIATE_OFFER = {"WWW-Authenticate": "Negotiate"}
BASIC_OFFER = {"WWW-Authenticate": 'Basic realm="WSMAN"'}

# pyspnego's NTLM acceptor reads the users it accepts only from the file named by NTLM_USER_FILE,
# a process-wide setting; each server points it at its own user while its acceptor steps.
_USER_FILE_LOCK = threading.Lock()
_USER_FILE = Path(tempfile.mkdtemp(prefix="wsman-ntlm-")) / "users"
atexit.register(shutil.rmtree, _USER_FILE.parent, True)


@dataclass(frozen=True)
class Exchange:
    """One request as the server saw it: which connection, how it was authenticated, the SOAP
    action once unsealed ("" for an empty body or one never read), whether it came sealed, and
    the HTTP status of the answer."""
    connection: int
    scheme: str | None
    action: str
    encrypted: bool
    status: int


class Refusal(Exception):
    """An HTTP answer given before WS-Management sees the request (401, 400)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.headers = status, headers or {}


@dataclass
class Admitted:
    envelope: bytes
    encrypted: bool
    scheme: str
    headers: dict[str, str]


def channel_bindings(certificate_pem: Path) -> GssChannelBindings:
    """The ``tls-server-end-point`` binding of a certificate (RFC 5929 4.1: its signature's hash,
    SHA-256 in place of MD5 and SHA-1)."""
    der = ssl.PEM_cert_to_DER_cert(Path(certificate_pem).read_text())
    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


class ConnectionAuth:
    """The authentication (and sealing) state of one HTTP connection."""

    def __init__(self, server, tls: bool):
        self.server = server  # reads .auth, .username, .password, .certificate at each request
        self.tls = tls
        self.context = None      # pyspnego acceptor, during and after the handshake
        self.scheme: str | None = None  # "basic" or "negotiate" once this connection is authenticated

    def admit(self, headers, body: bytes) -> Admitted:
        """The SOAP envelope of a request (unsealed) and how it came; raises Refusal."""
        if self.server.auth == "basic":
            return self._admit_basic(headers.get("Authorization", ""), body)
        extra: dict[str, str] = {}
        authorization = headers.get("Authorization")
        if authorization:
            word, _, token = authorization.partition(" ")
            if word.lower() not in ("negotiate", "ntlm"):
                raise Refusal(401, NEGOTIATE_OFFER)
            out = self._step(base64.b64decode(token))
            if not self.context.complete:
                raise Refusal(401, {"WWW-Authenticate": f"{word} {base64.b64encode(out or b'').decode()}"})
            self.scheme = "negotiate"
            if out:
                extra["WWW-Authenticate"] = f"{word} {base64.b64encode(out).decode()}"
        if self.scheme is None:
            raise Refusal(401, NEGOTIATE_OFFER)
        if headers.get("Content-Type", "").startswith("multipart/encrypted"):
            return Admitted(self._unseal(body), True, self.scheme, extra)
        if body and not self.tls:
            self._forget()  # AllowUnencrypted=false
            raise Refusal(401, NEGOTIATE_OFFER)
        return Admitted(body, False, self.scheme, extra)

    def seal(self, envelope: bytes, encrypted: bool) -> tuple[bytes, str]:
        """A reply body and its Content-Type: sealed when the request was."""
        if not encrypted:
            return envelope, SOAP_CONTENT_TYPE
        wrapped = self.context.wrap(envelope, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        body = (BOUNDARY + b"\r\n\tContent-Type: " + SESSION_ENCRYPTED + b"\r\n"
                b"\tOriginalContent: type=" + SOAP_CONTENT_TYPE.encode() + b";Length=" + str(len(envelope)).encode()
                + b"\r\n" + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<I", len(signature)) + signature + sealed + BOUNDARY + b"--\r\n")
        return body, ENCRYPTED_CONTENT_TYPE

    def _admit_basic(self, authorization: str, body: bytes) -> Admitted:
        expected = base64.b64encode(f"{self.server.username}:{self.server.password}".encode()).decode()
        if authorization != f"Basic {expected}":
            raise Refusal(401, BASIC_OFFER)
        return Admitted(body, False, "basic", {})

    def _step(self, token: bytes) -> bytes | None:
        if self.context is None or self.context.complete:  # a new handshake starts over
            self._forget()
        bindings = channel_bindings(self.server.certificate[0]) if self.tls else None
        username, password = self.server.username, self.server.password
        domain, _, user = username.rpartition("\\")
        with _USER_FILE_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            _USER_FILE.write_text(f"{domain}:{user}:{password}\n")
            os.environ["NTLM_USER_FILE"] = str(_USER_FILE)
            try:
                if self.context is None:
                    self.context = spnego.server(service="http", protocol="negotiate", channel_bindings=bindings)
                return self.context.step(token, channel_bindings=bindings)
            except SpnegoError:
                self._forget()
                raise Refusal(401, NEGOTIATE_OFFER) from None
            finally:
                if previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = previous

    def _unseal(self, body: bytes) -> bytes:
        match = ENCRYPTED_BODY.match(body)
        try:
            if match is None or self.context is None:
                raise ValueError("not a Negotiate encrypted message")
            stream = match.group(2)
            (signature_length,) = struct.unpack("<I", stream[:4])
            envelope = self.context.unwrap(stream[4:4 + signature_length] + stream[4 + signature_length:]).data
            if len(envelope) != int(match.group(1)):
                raise ValueError("the unsealed length is not OriginalContent's Length")
        except (ValueError, struct.error, SpnegoError):
            self._forget()  # the sealing state is lost with a message out of sequence
            status = self.server.unsealable_status
            raise Refusal(status, NEGOTIATE_OFFER if status == 401 else None) from None
        return envelope

    def _forget(self) -> None:
        self.context, self.scheme = None, None
