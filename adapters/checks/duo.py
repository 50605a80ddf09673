"""Duo Push through Duo's Auth API v2: the `Checks` port for the factor "push".

Who is reached is Duo's to say: `preauth` must answer "auth" with a device that takes pushes.
A bypass user ("allow": Duo would let them through without a second factor) is reached by
nothing, and a push that Duo answers with a bypass is denied: a desk check must be passed on
the person's phone, never by a policy. "enroll" and "deny" reach nothing either.

A push is sent asynchronously and its answer read with `auth_status`: waiting is pending,
allow is approved, deny is denied, timeout expired. A push the person reports as fraud is
denied with the reason "fraud" kept on the check and logged as `duo.push_fraud` (a warning
naming the person and the transaction), for security to follow up. Duo cannot cancel a
push: `withdraw` records the check withdrawn here, so `result` answers withdrawn and an
approval given afterwards is never taken. An answer first read after the check's expiry
(the desk's or Duo's minute, whichever is sooner) counts as expired, except a denial.

The same request key again is the same check (key -> txid kept in Redis). Duo has no
idempotency key, so an issue whose answer was lost (`OutcomeUnknown`) may have pushed, and
a retry pushes again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import structlog

from adapters.checks.duo_api import DuoApi
from adapters.checks.kept import KeptCheck, KeptChecks
from adapters.checks.provider_http import ProviderRefused, ProviderUnavailable
from bot.clock import Clock
from bot.masking import mask_phone
from bot.ports import (
    CheckRequest,
    CheckState,
    CheckStatus,
    IssuedCheck,
    NotFoundError,
    Reach,
    Unsupported,
)
from bot.store import Store

log = structlog.get_logger("itdesk.duo")

# Duo Push waits this long for an answer before it times out.
PUSH_LIFETIME = timedelta(seconds=60)
TYPE_LIMIT = 60  # Duo shows `type` in the notification's title: the message's first line


class DuoChecks:
    """The `Checks` port over Duo's Auth API (`api`), keeping its checks in `store`."""

    def __init__(self, store: Store, clock: Clock, api: DuoApi) -> None:
        self._kept = KeptChecks(store.child("duo-checks"), clock)
        self._clock = clock
        self._api = api

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        device = await self._push_device(username)
        return () if device is None else (Reach(factor="push", address=_address(device)),)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        if request.factor != "push":
            raise Unsupported(request.factor, "Duo sends pushes only")
        known = await self._kept.by_key(request.key)
        if known is not None:  # the same request again: the same check, not a second push
            return known.issued()
        device = await self._push_device(request.username)
        if device is None:
            raise NotFoundError("factor", f"{request.username}:push")
        now = self._clock.now()
        txid = await self._api.auth_push(
            request.username,
            str(device.get("device") or "auto"),
            type_text=request.message.splitlines()[0][:TYPE_LIMIT] if request.message else "",
            pushinfo=urlencode({"IT desk request": request.key, "Details": request.message}),
        )
        check = KeptCheck(
            id=txid,
            key=request.key,
            username=request.username,
            factor="push",
            address=_address(device),
            expires_at=min(request.expires_at, now + PUSH_LIFETIME),
        )
        log.info("duo.push_sent", user=request.username, txid=txid, key=request.key)
        return (await self._kept.record(check)).issued()

    async def result(self, check_id: str) -> CheckState:
        check = await self._kept.require(check_id)
        if check.status != "pending":
            return check.state()
        now = self._clock.now()
        try:
            status = await self._api.auth_status(check.id)
        except TimeoutError:  # Duo holds a poll until there is news: none yet
            status = {"result": "waiting", "status": "pushed"}
        except (ProviderRefused, ProviderUnavailable):
            if now < check.expires_at:
                raise
            status = {"result": "deny", "status": "timeout"}  # past its time: nothing to pass
        answer, reason = _answer(check, status, now)
        if answer == "pending":
            return check.state()
        if reason == "fraud":
            log.warning("duo.push_fraud", user=check.username, txid=check.id, key=check.key)
        elif reason == "bypass":
            log.warning("duo.bypass_refused", user=check.username, txid=check.id)
        elif reason == "late":
            log.info("duo.late_approval_refused", user=check.username, txid=check.id)
        at = min(now, check.expires_at) if answer == "expired" else now
        return (await self._kept.settle(check.id, answer, at=at, reason=reason)).state()

    async def verify_code(self, check_id: str, code: str) -> bool:
        await self._kept.require(check_id)
        raise ValueError(f"check {check_id!r} is not a code this provider checks")

    async def withdraw(self, check_id: str) -> None:
        try:
            state = await self.result(check_id)  # an answer already given stays as it is
        except (ProviderUnavailable, ProviderRefused, TimeoutError):
            state = CheckState(status="pending")  # nothing learnt: withdraw it all the same
        if state.status == "pending":
            await self._kept.settle(check_id, "withdrawn", at=self._clock.now())

    async def _push_device(self, username: str) -> dict[str, Any] | None:
        """The first device Duo would push to for the person, or None when Duo does not ask
        them for a second factor by push (a bypass, enrolment, denial, no push device)."""
        response = await self._api.preauth(username)
        result = response.get("result")
        if result != "auth":
            if result == "allow":
                log.warning("duo.bypass_user_not_reached", user=username)
            return None
        devices = response.get("devices")
        for device in devices if isinstance(devices, list) else []:
            if isinstance(device, dict) and "push" in (device.get("capabilities") or []):
                return device
        return None


def _answer(
    check: KeptCheck, status: dict[str, Any], now: datetime
) -> tuple[CheckStatus, str | None]:
    """What Duo's `auth_status` means for the check now, and why where it says more."""
    result, detail = status.get("result"), status.get("status")
    late = now >= check.expires_at
    if result == "waiting":
        return ("expired", None) if late else ("pending", None)
    if result == "allow":
        if detail == "bypass":  # let through by policy, not approved on the phone
            return "denied", "bypass"
        return ("expired", "late") if late else ("approved", None)
    if detail == "timeout":
        return "expired", None
    return "denied", "fraud" if detail == "fraud" else None


def _address(device: dict[str, Any]) -> str:
    """Where the push goes, masked for chat. Duo shows a number with all but its last four
    digits as X ("XXX-XXX-0123", "+44 XXXX XX0123"); the desk shows fewer, as for any phone.
    A device without a number (a tablet) goes by its name."""
    number = device.get("number")
    if isinstance(number, str) and number.strip():
        return mask_phone(number.replace("X", "0").replace("x", "0"))
    name = device.get("display_name") or device.get("name") or "your device"
    return f"Duo Mobile on {name}"
