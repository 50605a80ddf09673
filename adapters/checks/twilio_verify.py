"""SMS codes that a Twilio-compatible Verify API mints, sends and checks: the `Checks` port for
the factor "sms", the provider being the verifier (the desk's own code, if it offers one, is
not used: Verify sends its own, in its own template).

Who is reached: a person the directory lists with the sms factor *and* a mobile number on
record in `Contacts` (`ContactPoints.mobile`). Both are asked for: the factor says the person
enrolled SMS as a way to sign in, the number says where; a number the directory merely
holds (an HR field, perhaps a personal phone) is not enough. Never a number typed in chat.

A verification lives ten minutes at Twilio, which then deletes it: a check read after that
is expired, and a 404 before the check's expiry is a `NotFoundError` (Twilio no longer has a
check the desk thinks open). Too many wrong codes (60202) deny the check; too many codes
sent to one number (60203) is `SendLimitReached`. Withdrawing cancels the verification.
Verify keeps one open verification per number: a second check while one is open is that one
again (its code sent again), so two request keys may name one check.
The code is sent to Twilio in a form and is in no log line, message or record here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from adapters.checks.kept import KeptCheck, KeptChecks
from adapters.checks.twilio_api import (
    MAX_CHECK_ATTEMPTS,
    NOT_FOUND,
    VerifyApi,
    VerifyError,
    e164,
)
from bot.clock import Clock
from bot.masking import mask_phone
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

log = structlog.get_logger("itdesk.twilio_verify")

VERIFICATION_LIFETIME = timedelta(minutes=10)
# Verify's statuses, as the port says them (deleted and failed: the code can no longer pass).
_STATUSES: dict[str, CheckStatus] = {
    "pending": "pending", "approved": "approved", "canceled": "withdrawn",
    "expired": "expired", "deleted": "expired", "max_attempts_reached": "denied",
    "failed": "denied",
}  # fmt: skip


class TwilioVerifyChecks:
    """The `Checks` port over one Verify service (`api`), reaching the people `directory`
    lists with the sms factor at the mobile numbers `contacts` has on record."""

    def __init__(
        self, store: Store, clock: Clock, directory: Directory, contacts: Contacts, api: VerifyApi
    ) -> None:
        self._kept = KeptChecks(store.child("twilio-verify-checks"), clock)
        self._clock = clock
        self._directory = directory
        self._contacts = contacts
        self._api = api

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        mobile = await self._mobile(username)
        return () if mobile is None else (Reach(factor="sms", address=mask_phone(mobile)),)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        if request.factor != "sms":
            raise Unsupported(request.factor, "Twilio Verify sends SMS codes only")
        if "{code}" not in request.message:
            raise ValueError("a code check's message must say where the code goes: {code}")
        known = await self._kept.by_key(request.key)
        if known is not None:  # the same request again: the same check, not a second text
            return known.issued()
        if await self._directory.person(request.username) is None:
            raise NotFoundError("person", request.username)
        mobile = await self._mobile(request.username)
        if mobile is None:
            raise NotFoundError("factor", f"{request.username}:sms")
        now = self._clock.now()
        verification = await self._api.start(e164(mobile))
        check = KeptCheck(
            id=str(verification["sid"]),
            key=request.key,
            username=request.username,
            factor="sms",
            address=mask_phone(mobile),
            expires_at=min(request.expires_at, now + VERIFICATION_LIFETIME),
        )
        log.info("twilio_verify.code_sent", user=request.username, sid=check.id)
        return (await self._kept.record(check)).issued()

    async def result(self, check_id: str) -> CheckState:
        check = await self._kept.require(check_id)
        if check.status != "pending":
            return check.state()
        if self._clock.now() >= check.expires_at:
            return await self._settle(check, "expired")
        try:
            verification = await self._api.fetch(check.id)
        except VerifyError as exc:
            if exc.code == NOT_FOUND:
                raise NotFoundError("check", check_id) from exc
            raise
        return await self._settle(check, _status(verification))

    async def verify_code(self, check_id: str, code: str) -> bool:
        check = await self._kept.require(check_id)
        if check.status != "pending":
            return False
        if self._clock.now() >= check.expires_at:
            await self._settle(check, "expired")
            return False
        try:
            answer = await self._api.check(check.id, code)
        except VerifyError as exc:
            if exc.code == MAX_CHECK_ATTEMPTS:
                log.info("twilio_verify.max_attempts", user=check.username, sid=check.id)
                await self._settle(check, "denied", reason="max_attempts")
                return False
            if exc.code == NOT_FOUND:  # no open verification: nothing a code can pass
                return False
            raise
        status = _status(answer)
        if status == "pending":
            return False  # a wrong code: it may be typed again
        settled = await self._settle(check, status)
        return settled.status == "approved" and status == "approved"

    async def withdraw(self, check_id: str) -> None:
        check = await self._kept.require(check_id)
        if check.status != "pending":
            return
        if self._clock.now() >= check.expires_at:  # closed by its time: it stays expired
            await self._settle(check, "expired")
            return
        try:
            await self._api.cancel(check.id)
        except VerifyError as exc:
            if exc.code != NOT_FOUND:  # gone at Twilio already: withdrawn here all the same
                raise
        await self._kept.settle(check.id, "withdrawn", at=self._clock.now())

    async def _mobile(self, username: str) -> str | None:
        """The mobile on record for a person the directory lists with the sms factor."""
        person = await self._directory.person(username)
        if person is None or "sms" not in person.factors:
            return None
        points = await self._contacts.contact_points(username)
        mobile = None if points is None else points.mobile
        return mobile.strip() if mobile and mobile.strip() else None

    async def _settle(
        self, check: KeptCheck, status: CheckStatus, *, reason: str | None = None
    ) -> CheckState:
        if status == "pending":
            return check.state()
        now = self._clock.now()
        at = min(now, check.expires_at) if status == "expired" else now
        return (await self._kept.settle(check.id, status, at=at, reason=reason)).state()


def _status(verification: dict[str, Any]) -> CheckStatus:
    """A verification's status as the port says it; one Verify has not documented is not
    taken as approved."""
    return _STATUSES.get(str(verification.get("status")), "denied")
