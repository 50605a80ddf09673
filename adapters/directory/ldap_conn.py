"""The desk's connections to an LDAP directory. ldap3 blocks, so every call runs in a worker
thread on a bound connection (SAFE_SYNC) kept in a small pool. A read is retried with backoff
when its connection fails; a write is made once, on a connection opened for it, and an answer
lost after the change went out is `OutcomeUnknown` (the desk reads the state back). The
service account's password stays in its `SecretStr`: each connection forgets it once bound,
so it is in no repr, log line or exception."""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog
from ldap3 import NONE, SAFE_SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPStartTLSError
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from adapters.directory.ldap_session import (
    BUSY,
    ConnectionLost,
    DirectoryRefused,
    DirectoryUnavailable,
    Session,
)
from bot.ports import OutcomeUnknown

log = structlog.get_logger("itdesk.ldap")

T = TypeVar("T")

READ_ATTEMPTS = 3
POOL_SIZE = 4


@dataclass(frozen=True)
class Endpoint:
    """Where the directory is and how the desk signs in to it."""

    url: str
    bind_dn: str
    password: SecretStr = field(repr=False)
    ca_file: Path | None = None
    timeout: float = 10.0


class Connections:
    """A few bound connections to one directory, shared by the desk's calls (at most
    `size` at once)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        size: int = POOL_SIZE,
        attempts: int = READ_ATTEMPTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.endpoint = endpoint
        self._size = size
        self._attempts = attempts
        self._sleep = sleep
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._slots = asyncio.Semaphore(size)

    def __repr__(self) -> str:
        return f"Connections({self.endpoint.url!r}, bind_dn={self.endpoint.bind_dn!r})"

    async def read(self, call: Callable[[Session], T]) -> T:
        """Run a read, again on a fresh connection (after a pause) when the connection fails."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception_type(ConnectionLost),
            sleep=self._sleep,
            before_sleep=self._retrying,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._run(call, pooled=True)
        except ConnectionLost as exc:
            log.error("ldap.unavailable", url=self.endpoint.url, attempts=self._attempts,
                      reason=exc.reason)  # fmt: skip
            raise DirectoryUnavailable(
                f"the directory at {self.endpoint.url} did not answer after "
                f"{self._attempts} attempts ({exc.reason})"
            ) from exc
        raise AssertionError("unreachable: tenacity returns or raises")

    async def write(self, call: Callable[[Session], T]) -> T:
        """Run a write once, on a connection opened for it."""
        try:
            return await self._run(call, pooled=False)
        except ConnectionLost as exc:
            if exc.sent:
                raise OutcomeUnknown(
                    f"the directory at {self.endpoint.url} did not answer a change "
                    f"({exc.reason}): it may or may not have been made"
                ) from exc
            raise DirectoryUnavailable(
                f"the directory at {self.endpoint.url} could not be reached ({exc.reason}); "
                "nothing was changed"
            ) from exc

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _unbind(connection)

    def _retrying(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("ldap.retrying", url=self.endpoint.url, attempt=state.attempt_number,
                    reason=getattr(exc, "reason", str(exc)))  # fmt: skip

    async def _run(self, call: Callable[[Session], T], *, pooled: bool) -> T:
        async with self._slots:
            return await asyncio.to_thread(self._in_thread, call, pooled)

    def _in_thread(self, call: Callable[[Session], T], pooled: bool) -> T:
        connection = self._take() if pooled else None
        session: Session | None = None
        try:
            connection = connection or self._connect()
            session = Session(connection)
            result = call(session)
        except (LDAPCommunicationError, LDAPStartTLSError, OSError) as exc:
            if connection is not None:
                _unbind(connection)
            sent = session is not None and session.sent
            raise ConnectionLost(_reason(exc), sent=sent) from exc
        except LDAPException:
            if connection is not None:
                _unbind(connection)  # ldap3 gave up half way: the connection may be mid-answer
            raise
        except Exception:
            if connection is not None:  # the directory answered (refused, or found nothing)
                self._give(connection)
            raise
        self._give(connection)
        return result

    def _take(self) -> Connection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give(self, connection: Connection) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(connection)
                return
        _unbind(connection)

    def _connect(self) -> Connection:
        e = self.endpoint
        # a server of its own: ldap3's remembers an address it could not reach and will not
        # try it again for seconds, which would turn each retry into an instant failure
        connection = _QuietConnection(
            _server(e), user=e.bind_dn, password=e.password.get_secret_value(),
            # ldap3 packs this into SO_RCVTIMEO as whole seconds: an int, or it fails
            client_strategy=SAFE_SYNC, receive_timeout=max(1, math.ceil(e.timeout)),
            auto_referrals=False,
            auto_escape=False, raise_exceptions=False,
        )  # fmt: skip
        try:
            _, result, _, _ = connection.bind()
        except BaseException:
            _unbind(connection)
            raise
        finally:
            connection.password = None  # the SecretStr keeps it; nothing else does
        if result["result"] in BUSY:
            _unbind(connection)
            raise ConnectionLost(f"the directory is {result['description']}", sent=False)
        if result["result"] != 0:
            _unbind(connection)
            raise DirectoryRefused(f"the desk's service account {e.bind_dn}", result)
        return connection


class _QuietConnection(Connection):  # type: ignore[misc]
    """ldap3's connection, whose own repr shows the password it was given."""

    def __repr__(self) -> str:
        return f"<ldap connection as {self.user}>"


def _server(endpoint: Endpoint) -> Server:
    tls = None
    if endpoint.url.lower().startswith("ldaps://"):
        ca = str(endpoint.ca_file) if endpoint.ca_file else None
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca)
    return Server(endpoint.url, connect_timeout=endpoint.timeout, get_info=NONE, tls=tls)


def _unbind(connection: Connection) -> None:
    with contextlib.suppress(LDAPCommunicationError, OSError):  # the socket is gone already
        connection.unbind()
    # ldap3 keeps the socket of a connect that failed (it never opened, so unbind skips it)
    leftover = getattr(connection, "socket", None)
    if leftover is not None:
        with contextlib.suppress(OSError):
            leftover.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
