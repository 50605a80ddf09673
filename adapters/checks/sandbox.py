"""The sandbox's check provider: pushes and codes land on the person's sandbox phone (the
sandbox outbox, which the web chat shows and the scenario runner reads), and a push is
answered there, as on a real phone, before the front end tells the desk to look.

By default it delivers the codes the desk mints and leaves judging them to the desk, as an
SMS or e-mail gateway does; `provider_codes` names factors whose codes it mints and checks
itself, as Twilio Verify or an authenticator app does."""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from adapters.capabilities import Capabilities
from adapters.checks.reach import registered_reach
from adapters.notify.sandbox import SandboxOutbox
from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import FactorKind
from bot.ports import (
    CHECK_CAPABILITIES,
    FACTOR_STRENGTH,
    CheckRequest,
    CheckState,
    CheckStatus,
    Directory,
    IssuedCheck,
    NotFoundError,
    OutboxItem,
    OutboxStatus,
    Reach,
    Verifier,
)
from bot.store import Store

# a provider that checks codes gives up after this many wrong ones (Twilio Verify: five)
MAX_CODE_ATTEMPTS = 5


class CheckClosed(ValueError):
    """An answer to a check that is no longer open (answered, expired or withdrawn)."""


class SandboxCheck(BaseModel):
    """One check as the sandbox provider keeps it. `code` is set only for a code it checks
    itself (a desk-checked code stays with the desk, as a digest)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    key: str
    username: str
    factor: FactorKind
    kind: Literal["push", "code"]
    verifier: Verifier
    address: str
    item: str  # the outbox item on the phone
    expires_at: datetime
    status: CheckStatus = "pending"
    at: datetime | None = None
    code: str | None = None
    attempts: int = 0

    def as_of(self, now: datetime) -> SandboxCheck:
        if self.status == "pending" and now >= self.expires_at:
            return self.model_copy(update={"status": "expired", "at": self.expires_at})
        return self

    def issued(self) -> IssuedCheck:
        return IssuedCheck(
            id=self.id,
            kind=self.kind,
            verifier=self.verifier,
            address=self.address,
            expires_at=self.expires_at,
        )


class SandboxChecks:
    """The `Checks` port over the sandbox phone. `unsupported` names capabilities
    (`bot.ports.CHECK_CAPABILITIES`: a factor kind, or `withdraw`) it acts as if it lacked."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        directory: Directory,
        phone: SandboxOutbox,
        *,
        provider_codes: Iterable[FactorKind] = (),
        unsupported: Iterable[str] = (),
    ) -> None:
        self.capabilities = Capabilities(unsupported, CHECK_CAPABILITIES, "check provider")
        self._store = store.child("checks")
        self._clock = clock
        self._directory = directory
        self._phone = phone
        self._provider_codes = frozenset(provider_codes)
        self._checks = JsonRecords(self._store, "check", SandboxCheck)

    # --- the port --------------------------------------------------------------------------

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        supported = [f for f in FACTOR_STRENGTH if self.capabilities.has(f)]
        return await registered_reach(self._directory, username, supported)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        self.capabilities.require(request.factor)
        known = await self._store.redis.get(self._store.key("key", request.key))
        if known is not None:  # the same request again: the same check, not a second push
            return (await self._checks.require(text(known))).issued()
        person = await self._directory.person(request.username)
        if person is None:
            raise NotFoundError("person", request.username)
        address = await self._directory.factor_address(request.username, request.factor)
        if address is None:
            raise NotFoundError("factor", f"{request.username}:{request.factor}")
        kind: Literal["push", "code"] = "push" if request.factor == "push" else "code"
        own = kind == "code" and (request.code is None or request.factor in self._provider_codes)
        code = f"{secrets.randbelow(10**6):06d}" if own else request.code
        if kind == "code" and "{code}" not in request.message:
            raise ValueError("a code check's message must say where the code goes: {code}")
        check = SandboxCheck(
            id=f"chk-{secrets.token_hex(8)}",
            key=request.key,
            username=request.username,
            factor=request.factor,
            kind=kind,
            verifier="provider" if kind == "push" or own else "desk",
            address=address,
            item=f"ob-{secrets.token_hex(6)}",
            expires_at=request.expires_at,
            code=code if own else None,
        )
        async with self._store.redis.pipeline(transaction=True) as pipe:
            self._checks.stage(pipe, check.id, check)
            pipe.set(self._store.key("key", request.key), check.id)
            await pipe.execute()
        await self._phone.deliver(
            OutboxItem(
                id=check.item,
                to=check.username,
                channel=check.factor,
                address=address,
                kind=kind,
                text=request.message.replace("{code}", code or ""),
                secret=code,
                ref=check.id,
                status="pending",
                created_at=self._clock.now(),
                expires_at=check.expires_at,
            )
        )
        return check.issued()

    async def result(self, check_id: str) -> CheckState:
        check = await self._current(check_id)
        return CheckState(status=check.status, at=check.at)

    async def verify_code(self, check_id: str, code: str) -> bool:
        check = await self._current(check_id)
        if check.kind != "code" or check.verifier != "provider":
            raise ValueError(f"check {check_id!r} is not a code this provider checks")
        if check.status != "pending" or check.code is None:
            return False
        right = hmac.compare_digest(code.encode(), check.code.encode())
        try:
            await self._settle(check, "approved" if right else None)
        except CheckClosed:  # answered (or withdrawn) meanwhile
            return False
        return right

    async def withdraw(self, check_id: str) -> None:
        self.capabilities.require("withdraw")
        check = await self._current(check_id)
        if check.status == "pending":
            with contextlib.suppress(CheckClosed):  # closed meanwhile: it stays as it is
                await self._settle(check, "withdrawn")

    # --- the phone (sandbox only) ----------------------------------------------------------

    async def answer(self, check_id: str, *, approve: bool) -> CheckState:
        """The person approves or denies a push on their phone. A code is typed in the chat,
        not approved, and a push that is no longer open takes no answer (`CheckClosed`)."""
        check = await self._current(check_id)
        if check.kind != "push":
            raise ValueError(f"check {check_id!r} is a code: it is typed, not approved")
        if check.status != "pending":
            raise CheckClosed(f"check {check_id!r} is no longer open ({check.status})")
        return await self._settle(check, "approved" if approve else "denied")

    async def delivered(self, check_id: str) -> OutboxItem | None:
        """What the check put on the person's phone (a code is read from it)."""
        check = await self._checks.get(check_id)
        return None if check is None else await self._phone.item(check.item)

    async def _current(self, check_id: str) -> SandboxCheck:
        check = await self._checks.get(check_id)
        if check is None:
            raise NotFoundError("check", check_id)
        return check.as_of(self._clock.now())

    async def _settle(self, check: SandboxCheck, status: CheckStatus | None) -> CheckState:
        """Close an open check with `status`, or (None) count a wrong code against it, which
        closes it as denied once too many were wrong. `CheckClosed` when it is not open."""
        now = self._clock.now()

        def change(stored: SandboxCheck) -> SandboxCheck:
            current = stored.as_of(now)
            if current.status != "pending":
                raise CheckClosed(f"check {check.id!r} is no longer open ({current.status})")
            if status is not None:
                return current.model_copy(update={"status": status, "at": now})
            attempts = current.attempts + 1
            if attempts >= MAX_CODE_ATTEMPTS:
                return current.model_copy(
                    update={"attempts": attempts, "status": "denied", "at": now}
                )
            return current.model_copy(update={"attempts": attempts})

        settled = await self._checks.update(check.id, change)
        if settled.status != "pending":
            await self._phone.set_status(check.item, _item_status(settled))
        return CheckState(status=settled.status, at=settled.at)


def _item_status(check: SandboxCheck) -> OutboxStatus:
    """How the phone shows a closed check: a code accepted is `used`, the rest as they are."""
    return "used" if check.kind == "code" and check.status == "approved" else check.status
