"""One-time codes by e-mail: the `Checks` port for the factor "email". The desk mints the code
and keeps its digest; this provider only delivers it, to the first address on record in the
configured order (never an address typed in chat), and leaves judging it to the desk. What
it keeps in Redis is the check's state (masked address, expiry, withdrawn or not), never the
code or the address itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from adapters.mail.contacts import DEFAULT_ORDER, DirectoryContacts, address_order, first_address
from adapters.mail.message import Mail, Mailer
from bot.clock import Clock
from bot.masking import mask_email
from bot.ports import (
    CheckRequest,
    CheckState,
    CheckStatus,
    Contacts,
    Directory,
    IssuedCheck,
    NotFoundError,
    Reach,
    Unsupported,
)
from bot.store import Store
from bot.texts import say

# how long a check's state is kept past its expiry, for the desk's late reads of it
KEPT_AFTER_EXPIRY = timedelta(days=1)


class EmailCheck(BaseModel):
    """One check as this provider keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    key: str
    username: str
    address: str  # masked
    expires_at: datetime
    status: CheckStatus = "pending"
    at: datetime | None = None

    def as_of(self, now: datetime) -> EmailCheck:
        if self.status == "pending" and now >= self.expires_at:
            return self.model_copy(update={"status": "expired", "at": self.expires_at})
        return self

    def issued(self) -> IssuedCheck:
        return IssuedCheck(
            id=self.id, kind="code", verifier="desk", address=self.address,
            expires_at=self.expires_at,
        )  # fmt: skip


class EmailChecks:
    """Delivers the desk's codes by e-mail through `mailer` to the people `directory` records
    with the e-mail factor, at the first address of `order` ("secondary", "primary") that
    `contacts` records for them (without `contacts`: the directory's own mailbox address).
    The same request key again is the same check, and sends nothing."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        directory: Directory,
        mailer: Mailer,
        *,
        contacts: Contacts | None = None,
        order: Iterable[str] = DEFAULT_ORDER,
    ) -> None:
        self._store = store.child("email-checks")
        self._clock = clock
        self._directory = directory
        self._contacts = contacts or DirectoryContacts(directory)
        self._mailer = mailer
        self._order = address_order(order)

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        person = await self._directory.person(username)
        if person is None or "email" not in person.factors:
            return ()
        points = await self._contacts.contact_points(username)
        address = None if points is None else first_address(points, self._order)
        return () if address is None else (Reach(factor="email", address=mask_email(address)),)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        if request.factor != "email":
            raise Unsupported(request.factor, "this provider sends codes by e-mail only")
        if "{code}" not in request.message:
            raise ValueError("a code check's message must say where the code goes: {code}")
        if request.code is None:
            raise ValueError("an e-mail check delivers the desk's code: the request has none")
        known = await self._by_key(request.key)
        if known is not None:  # the same request again: the same check, not a second e-mail
            return known.issued()
        person = await self._directory.person(request.username)
        if person is None:
            raise NotFoundError("person", request.username)
        if "email" not in person.factors:
            raise NotFoundError("factor", f"{request.username}:email")
        points = await self._contacts.contact_points(request.username)
        address = None if points is None else first_address(points, self._order)
        if address is None:
            raise NotFoundError("email", request.username)
        check = EmailCheck(
            id=f"chk-{secrets.token_hex(8)}",
            key=request.key,
            username=request.username,
            address=mask_email(address),
            expires_at=request.expires_at,
        )
        body = request.message.replace("{code}", request.code)
        subject = say("email.subject_code")
        await self._mailer.send(Mail(address, subject, body, request.key, ref=check.id))
        # Recorded once sent: a send that failed leaves no check behind, so the request may
        # be tried again. Two workers issuing one key at once may both send; the first
        # recorded is the check.
        return (await self._record(check)).issued()

    async def result(self, check_id: str) -> CheckState:
        check = await self._current(check_id)
        return CheckState(status=check.status, at=check.at)

    async def verify_code(self, check_id: str, code: str) -> bool:
        await self._current(check_id)
        raise ValueError(f"check {check_id!r} is not a code this provider checks")

    async def withdraw(self, check_id: str) -> None:
        check = await self._current(check_id)
        if check.status == "pending":
            # pending -> withdrawn is the only change this provider makes, so two withdrawals
            # racing agree, and no transaction is needed
            withdrawn = check.model_copy(update={"status": "withdrawn", "at": self._clock.now()})
            await self._store.redis.set(
                self._store.key("check", check_id),
                withdrawn.model_dump_json(),
                keepttl=True,
                xx=True,
            )

    async def _record(self, check: EmailCheck) -> EmailCheck:
        ttl = self._ttl(check.expires_at)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("key", check.key), check.id, nx=True, ex=ttl)
            pipe.set(self._store.key("check", check.id), check.model_dump_json(), ex=ttl)
            first, _ = await pipe.execute()
        if first:
            return check
        await self._store.redis.delete(self._store.key("check", check.id))
        return await self._by_key(check.key) or check

    async def _by_key(self, key: str) -> EmailCheck | None:
        check_id = await self._store.redis.get(self._store.key("key", key))
        return None if check_id is None else await self._get(str(check_id))

    async def _get(self, check_id: str) -> EmailCheck | None:
        raw = await self._store.redis.get(self._store.key("check", check_id))
        return None if raw is None else EmailCheck.model_validate_json(raw)

    async def _current(self, check_id: str) -> EmailCheck:
        check = await self._get(check_id)
        if check is None:
            raise NotFoundError("check", check_id)
        return check.as_of(self._clock.now())

    def _ttl(self, expires_at: datetime) -> timedelta:
        """How long Redis keeps the state: the time left (on the desk's clock, which need not
        be Redis's) plus a day for late reads."""
        return max(expires_at - self._clock.now(), timedelta(0)) + KEPT_AFTER_EXPIRY
