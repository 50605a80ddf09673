"""The SMTP sender (aiosmtplib): `smtp://user:password@host:587` upgrades with STARTTLS when
the server offers it, `smtps://host:465` speaks TLS from the start. A password is only ever
sent over TLS. A failure worth another try (the server down or busy, a 4xx answer) is retried
a few times with growing pauses; then, or at once for a refusal (a wrong password, a 5xx
answer), `MailUndelivered` names the server and why, never the password or the message. A
message whose answer was lost may arrive twice: it then has the same Message-ID.

Only this module imports aiosmtplib."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from adapters.mail.message import Mail, compose
from bot.clock import Clock
from bot.masking import mask_email

log = structlog.get_logger("itdesk.mail")

ATTEMPTS = 3
TIMEOUT = 10.0  # seconds per SMTP command, the connection's included
FIRST_PAUSE = 1.0  # seconds before the second attempt, doubling after
LONGEST_PAUSE = 8.0


class MailUndelivered(ConnectionError):
    """A message did not reach the mail server: down, slow, or refusing it. An operator's
    matter (the server, its credentials); `transient` says whether it was worth retrying."""

    def __init__(self, detail: str, *, transient: bool) -> None:
        super().__init__(detail)
        self.transient = transient


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, from `ITDESK_SMTP_URL`. The password stays a `SecretStr`."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str | SecretStr) -> SmtpServer:
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        parts = urlsplit(raw)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname or port == -1:
            # the URL itself is not repeated: it may hold the password
            raise ValueError("the SMTP URL must be smtp://[user:password@]host[:port] or smtps://")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class SmtpMailer:
    """Sends each `Mail` as its own message from `sender` (`ITDESK_SMTP_FROM`) over a fresh
    connection: codes and notices are few, and a held connection would only go stale.
    `ca_file` is the CA to trust for the server's certificate (unset: the system's)."""

    def __init__(
        self,
        server: SmtpServer,
        sender: str,
        clock: Clock,
        *,
        ca_file: Path | None = None,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        first_pause: float = FIRST_PAUSE,
        longest_pause: float = LONGEST_PAUSE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._server = server
        self._sender = sender
        self._clock = clock
        self._ca_file = ca_file
        self._timeout = timeout
        self._attempts = attempts
        self._wait = wait_exponential(multiplier=first_pause, max=longest_pause)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SmtpMailer({self._server}, sender={self._sender!r})"

    async def send(self, mail: Mail) -> None:
        to = mask_email(mail.to)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(state, str(self._server), mail.key),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._send_once(mail)
        except (aiosmtplib.SMTPException, OSError) as exc:
            transient = _transient(exc)
            tries = f"after {self._attempts} attempts" if transient else "refused"
            log.warning("mail.undelivered", server=str(self._server), key=mail.key, to=to,
                        error=_reason(exc), transient=transient)  # fmt: skip
            raise MailUndelivered(
                f"mail to {to} not delivered through {self._server} ({tries}): {_reason(exc)}",
                transient=transient,
            ) from exc
        log.info("mail.sent", server=str(self._server), key=mail.key, to=to)

    async def _send_once(self, mail: Mail) -> None:
        server = self._server
        smtp = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.implicit_tls,
            start_tls=False if server.implicit_tls else None,  # None: when the server offers it
            timeout=self._timeout,
            cert_bundle=None if self._ca_file is None else str(self._ca_file),
        )
        async with smtp:
            if server.username is not None:
                if smtp.get_transport_info("sslcontext") is None:
                    raise MailUndelivered(
                        f"{server} offered no STARTTLS: the desk sends no password in clear",
                        transient=False,
                    )
                password = "" if server.password is None else server.password.get_secret_value()
                await smtp.login(server.username, password)
            await smtp.send_message(compose(mail, self._sender, now=self._clock.now()))


def _transient(exc: BaseException) -> bool:
    """Worth another try: no answer, a dropped connection, or a 4xx ("try again later")."""
    if isinstance(exc, MailUndelivered):
        return exc.transient
    if isinstance(exc, ssl.SSLError):  # a certificate the desk does not trust stays so
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(400 <= refused.code < 500 for refused in exc.recipients)
    return isinstance(exc, OSError)  # refused, reset, timed out (aiosmtplib's included)


def _reason(exc: BaseException) -> str:
    """Why, in a few words: the server's answer, or the kind of network failure (an address
    the server echoes in a refusal is left out)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return f"{exc.code} recipient refused"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return f"{', '.join(str(r.code) for r in exc.recipients)} recipient refused"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"[:200]
    return (str(exc) or type(exc).__name__)[:200]


def _log_retry(state: RetryCallState, server: str, key: str) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.warning("mail.retrying", server=server, key=key, attempt=state.attempt_number,
                error=_reason(error) if error else None)  # fmt: skip
