"""Okta's own factors behind the `Checks` port (ITDESK_CHECKS=okta_verify): an Okta Verify push,
or a code Okta sends by SMS or e-mail (or the person's authenticator app shows) and checks.

- A push is `POST /users/{uid}/factors/{fid}/verify` asking for a number challenge; where
  Okta answers one (`_embedded.challenge.correctAnswer`) the number is the person's to pick
  on the phone (`IssuedCheck.number`). Its result is the transaction Okta polls: WAITING is
  pending, SUCCESS approved, REJECTED denied, TIMEOUT expired.
- An SMS or e-mail check is the same call without a body: Okta sends its own code (the desk's
  wording and code are not used) and judges what `verify_code` posts as `passCode`. A TOTP
  check sends nothing; the person reads the code off their app.
- Okta cannot cancel a push: `withdraw` closes the check here, so its result reads
  `withdrawn` and a late approval on the phone is never taken.
- What this keeps in Redis, under its `Store` child, is each check's ids (user, factor,
  transaction), masked address, expiry and state, and the request key that named it (the
  same key again is the same check); never a code.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from adapters.okta.client import OktaError
from adapters.okta.directory import OktaDirectory
from adapters.okta.people import USERS
from adapters.okta.records import active_factors, factor_address
from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import FactorKind
from bot.ports import (
    FACTOR_STRENGTH,
    CheckRequest,
    CheckState,
    CheckStatus,
    IssuedCheck,
    NotFoundError,
    Reach,
)
from bot.store import Store

CODE_LIFETIME = timedelta(minutes=5)  # Okta's own default for an SMS or e-mail code
MAX_CODE_ATTEMPTS = 5  # wrong codes before the check is denied
PUSH_RESULTS: dict[str, CheckStatus] = {
    "WAITING": "pending", "SUCCESS": "approved", "REJECTED": "denied", "TIMEOUT": "expired",
}  # fmt: skip


class OktaCheck(BaseModel):
    """One check as this provider keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    key: str
    user_id: str
    factor_id: str
    factor: FactorKind
    kind: Literal["push", "code"]
    address: str  # masked
    expires_at: datetime
    number: str | None = None
    status: CheckStatus = "pending"
    at: datetime | None = None
    attempts: int = 0

    def as_of(self, now: datetime) -> OktaCheck:
        if self.status == "pending" and now >= self.expires_at:
            return self.model_copy(update={"status": "expired", "at": self.expires_at})
        return self

    def issued(self) -> IssuedCheck:
        return IssuedCheck(id=self.id, kind=self.kind, verifier="provider", address=self.address,
                           expires_at=self.expires_at, number=self.number)  # fmt: skip


class OktaVerifyChecks:
    """The `Checks` port over the Okta org `directory` reads."""

    def __init__(self, directory: OktaDirectory, store: Store, clock: Clock) -> None:
        self._client = directory.client
        self._people = directory.people_of
        self._store = store.child("okta-checks")
        self._clock = clock
        self._checks = JsonRecords(self._store, "check", OktaCheck)

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        user = await self._people.user(username)
        if user is None:
            return ()
        enrolled = active_factors(await self._people.factors(str(user["id"])))
        found = [(kind, factor_address(kind, enrolled[kind])) for kind in FACTOR_STRENGTH
                 if kind in enrolled]  # fmt: skip
        return tuple(Reach(factor=kind, address=address) for kind, address in found if address)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        push = request.factor == "push"
        if not push and "{code}" not in request.message:
            raise ValueError("a code check's message must say where the code goes: {code}")
        known = await self._store.redis.get(self._store.key("key", request.key))
        if known is not None:  # the same request again: the same check, not a second push
            return (await self._checks.require(text(known))).issued()
        user = await self._people.require(request.username)
        enrolled = active_factors(await self._people.factors(str(user["id"]))).get(request.factor)
        if enrolled is None:
            raise NotFoundError("factor", f"{request.username}:{request.factor}")
        verify = f"{USERS}/{user['id']}/factors/{enrolled['id']}/verify"
        now = self._clock.now()
        check_id, number, okta_expiry = f"okta-{secrets.token_hex(8)}", None, None
        if push:
            answer = await self._client.post(verify, {"useNumberMatchingChallenge": True})
            check_id = _transaction_of(answer) or check_id
            number = _number_of(answer)
            okta_expiry = _expiry_of(answer)
        elif request.factor in ("sms", "email"):
            lifetime = int(CODE_LIFETIME.total_seconds())
            answer = await self._client.post(verify, params={"tokenLifetimeSeconds": lifetime})
            okta_expiry = _expiry_of(answer) or now + CODE_LIFETIME
        check = OktaCheck(
            id=check_id, key=request.key, user_id=str(user["id"]), factor_id=str(enrolled["id"]),
            factor=request.factor, kind="push" if push else "code",
            address=factor_address(request.factor, enrolled) or "",
            expires_at=min(request.expires_at, okta_expiry or request.expires_at), number=number,
        )  # fmt: skip
        return (await self._record(check)).issued()

    async def result(self, check_id: str) -> CheckState:
        check = await self._current(check_id)
        if check.status == "pending" and check.kind == "push":
            check = await self._poll(check)
        return CheckState(status=check.status, at=check.at)

    async def verify_code(self, check_id: str, code: str) -> bool:
        check = await self._current(check_id)
        if check.kind != "code":
            raise ValueError(f"check {check_id!r} is not a code this provider checks")
        if check.status != "pending" or not code.strip():
            return False
        verify = f"{USERS}/{check.user_id}/factors/{check.factor_id}/verify"
        try:
            answer = await self._client.post(verify, {"passCode": code.strip()})
        except (OktaError, ValueError):  # Okta refuses a wrong code (E0000068)
            answer = None
        right = isinstance(answer, dict) and answer.get("factorResult") == "SUCCESS"
        settled = await self._settle(check_id, "approved" if right else None)
        return right and settled.status == "approved"

    async def withdraw(self, check_id: str) -> None:
        check = await self._current(check_id)
        if check.status == "pending":
            await self._settle(check_id, "withdrawn")

    async def record(self, check_id: str) -> OktaCheck:
        """What this provider keeps of a check (the ids a test phone answers it by)."""
        return await self._current(check_id)

    # --- helpers ----------------------------------------------------------------------------

    async def _poll(self, check: OktaCheck) -> OktaCheck:
        path = f"{USERS}/{check.user_id}/factors/{check.factor_id}/transactions/{check.id}"
        try:
            answer = await self._client.get(path)
        except NotFoundError:  # Okta has forgotten it: it is long over
            return await self._settle(check.id, "expired")
        status = PUSH_RESULTS.get(str((answer or {}).get("factorResult")), "pending")
        return check if status == "pending" else await self._settle(check.id, status)

    async def _record(self, check: OktaCheck) -> OktaCheck:
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("key", check.key), check.id, nx=True)
            self._checks.stage(pipe, check.id, check)
            first, *_ = await pipe.execute()
        if first:
            return check
        await self._store.redis.delete(self._checks.key(check.id))  # another worker won
        known = await self._store.redis.get(self._store.key("key", check.key))
        return await self._checks.require(text(known)) if known is not None else check

    async def _current(self, check_id: str) -> OktaCheck:
        check = await self._checks.get(check_id)
        if check is None:
            raise NotFoundError("check", check_id)
        return check.as_of(self._clock.now())

    async def _settle(self, check_id: str, status: CheckStatus | None) -> OktaCheck:
        """Close a pending check with `status`, or (None) count a wrong code, denying it after
        too many; a check closed meanwhile stays as it is."""
        now = self._clock.now()

        def change(stored: OktaCheck) -> OktaCheck:
            current = stored.as_of(now)
            if current.status != "pending":
                return current
            if status is not None:
                return current.model_copy(update={"status": status, "at": now})
            attempts = current.attempts + 1
            if attempts >= MAX_CODE_ATTEMPTS:
                return current.model_copy(update={"attempts": attempts, "status": "denied",
                                                  "at": now})  # fmt: skip
            return current.model_copy(update={"attempts": attempts})

        return await self._checks.update(check_id, change)


def _transaction_of(answer: Any) -> str | None:
    poll = ((answer or {}).get("_links") or {}).get("poll") or {}
    href = str(poll.get("href") or "") if isinstance(poll, dict) else ""
    return urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1] or None if href else None


def _number_of(answer: Any) -> str | None:
    challenge = ((answer or {}).get("_embedded") or {}).get("challenge") or {}
    number = challenge.get("correctAnswer") if isinstance(challenge, dict) else None
    return None if number is None else str(number)


def _expiry_of(answer: Any) -> datetime | None:
    raw = (answer or {}).get("expiresAt") if isinstance(answer, dict) else None
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None
