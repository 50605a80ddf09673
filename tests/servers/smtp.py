"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 at an ephemeral port, in its own
thread, optionally offering STARTTLS (or speaking TLS from the start) with a certificate made
for the test run by a throwaway CA, and optionally requiring AUTH. It keeps every message it
accepts, with how it arrived (over TLS or not, authenticated or not), for the tests to read.

Without CI a server that cannot start skips the test; with `CI=true` it fails it."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    tls: bool
    authenticated: bool

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Mailboxes:
    """What the server received, by recipient, safe to read from the test's thread."""

    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: Received) -> None:
        with self._lock:
            self.received.append(message)

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.recipients]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class _Handler:
    def __init__(self, boxes: Mailboxes, busy: int, mailboxes: frozenset[str] | None) -> None:
        self._boxes = boxes
        self._busy = busy
        self._mailboxes = mailboxes

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._mailboxes is not None and address not in self._mailboxes:
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self._busy > 0:
            self._busy -= 1
            return "451 4.3.0 busy, try again later"
        raw = envelope.original_content or envelope.content
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        self._boxes.add(
            Received(
                sender=envelope.mail_from,
                recipients=tuple(envelope.rcpt_tos),
                message=parsed,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 OK"


class _EphemeralController(Controller):
    """aiosmtpd's controller bound to port 0: the port the system picked is read back before
    the controller's own first connection to it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass(frozen=True)
class SmtpTestServer:
    host: str
    port: int
    boxes: Mailboxes
    ca_file: Path | None
    implicit_tls: bool
    login: tuple[str, str] | None

    @property
    def url(self) -> str:
        """The `ITDESK_SMTP_URL` that reaches it (with the credentials it requires)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        who = (
            f"{quote(self.login[0], safe='')}:{quote(self.login[1], safe='')}@"
            if self.login
            else ""
        )
        return f"{scheme}://{who}{self.host}:{self.port}"


@contextmanager
def smtp_server(
    *,
    login: tuple[str, str] | None = None,
    starttls: bool = False,
    implicit_tls: bool = False,
    busy: int = 0,
    mailboxes: Iterable[str] | None = None,
) -> Iterator[SmtpTestServer]:
    """A running server: `login` (user, password) it requires before mail (over TLS only),
    `starttls` to offer STARTTLS, `implicit_tls` to speak TLS from the first byte. It answers
    the first `busy` messages "451 try again later", and given `mailboxes`, refuses mail to
    any other address (550)."""
    boxes = Mailboxes()
    with tempfile.TemporaryDirectory(prefix="smtp-") as folder:
        tls = _tls(Path(folder)) if starttls or implicit_tls or login else None
        kwargs: dict[str, Any] = {}
        if tls is not None and not implicit_tls:
            kwargs["tls_context"] = tls[0]
        if login is not None:
            kwargs.update(authenticator=_authenticator(*login), auth_required=True)
        controller = _EphemeralController(
            _Handler(boxes, busy, None if mailboxes is None else frozenset(mailboxes)),
            hostname=HOST,
            port=0,
            ssl_context=tls[0] if tls is not None and implicit_tls else None,
            ready_timeout=10.0,
            **kwargs,
        )
        try:
            controller.start()
        except Exception as exc:
            _discard(controller)
            _cannot_start(exc)
        try:
            yield SmtpTestServer(HOST, controller.port, boxes, tls[1] if tls else None,
                                 implicit_tls, login)  # fmt: skip
        finally:
            controller.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (an SMTP server hung)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(8)  # the kernel completes the handshake; nobody ever answers
        yield int(sock.getsockname()[1])


def _discard(controller: Controller) -> None:
    """Stop what a failed start left running, and close the event loop it made."""
    with contextlib.suppress(Exception):
        controller.stop(no_assert=True)
    if not controller.loop.is_closed():
        controller.loop.close()


def _cannot_start(exc: Exception) -> None:
    reason = f"the test SMTP server did not start: {type(exc).__name__}: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        right = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=right, handled=False)

    return check


def _tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 and localhost, signed by a CA made
    now, and the CA's certificate file a client is to trust."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itdesk test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    alt = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    )
    cert = (
        _builder(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(alt, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
