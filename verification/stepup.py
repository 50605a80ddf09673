"""Step-up: proof that the person typing is still the person the chat platform says, by an
out-of-band check on a factor registered in the directory (a push to approve, or a one-time
code sent by SMS, e-mail or the authenticator app), never a question answered in chat.

A failed check may be retried; the `max_failures`-th failure in a row ends self-service for
the case. State is shared through Redis (`verification.records`), so any desk process may
issue a challenge and any other may judge the answer."""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta

from bot.clock import Clock
from bot.models import FactorKind, Person
from bot.ports import Directory, Outbox, OutboxItem
from bot.store import Store
from verification.challenge import (
    CaseChecks,
    Challenge,
    CheckOutcome,
    CheckResult,
    LockedOut,
    cancelled,
    item_status,
    judge,
)
from verification.codes import code_matches, codes_in, digest_code, mint_code
from verification.records import ChallengeRecords

__all__ = [
    "Challenge",
    "CheckOutcome",
    "CheckResult",
    "LockedOut",
    "NoFactor",
    "StepUp",
    "Throttled",
]

FACTOR_PREFERENCE: tuple[FactorKind, ...] = ("push", "totp", "sms", "email")
DEFAULT_TTL = timedelta(minutes=10)


class Throttled(Exception):
    """Too many checks were sent to this person within the hour; `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many step-up checks; retry in {retry_after}s")
        self.retry_after = retry_after


class NoFactor(Exception):
    """The person has no registered factor a check can reach: a human must verify them."""

    def __init__(self, username: str) -> None:
        super().__init__(f"{username!r} has no usable sign-in factor")
        self.username = username


_NOTHING = CheckResult(CheckOutcome.NO_CHALLENGE, None, 0, None)


class StepUp:
    """Issues challenges on a person's strongest registered factor and judges the answers:
    failures in a row are counted per case, and the `max_failures`-th ends self-service."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        directory: Directory,
        outbox: Outbox,
        *,
        ttl: timedelta = DEFAULT_TTL,
        max_failures: int = 3,
        max_challenges_per_hour: int = 6,
    ) -> None:
        self._records = ChallengeRecords(store)
        self._clock = clock
        self._directory = directory
        self._outbox = outbox
        self._ttl = ttl
        self._max_failures = max_failures
        self._per_hour = max_challenges_per_hour

    # --- issuing ---------------------------------------------------------------------------

    async def challenge(self, person: Person, case_id: str) -> Challenge:
        """Send a check for the case to the person's strongest factor (push, then an
        authenticator code, then SMS, then e-mail) and return it. A pending challenge of the
        same case is withdrawn. Raises `NoFactor`, `Throttled` or `LockedOut`."""
        factor, address = await self._choose_factor(person)
        if (await self._records.case(case_id)).locked:
            raise LockedOut(case_id)
        challenge_id = f"su-{secrets.token_hex(8)}"
        now = self._clock.now()
        wait = await self._records.admit(person.username, challenge_id, now, self._per_hour)
        if wait > 0:
            raise Throttled(wait)
        challenge = Challenge(
            id=challenge_id,
            case_id=case_id,
            username=person.username,
            factor=factor,
            address=address,
            kind="push" if factor == "push" else "code",
            outbox_item=f"ob-{secrets.token_hex(6)}",
            created_at=now,
            expires_at=now + self._ttl,
        )
        code = None if challenge.kind == "push" else mint_code()
        ref = secrets.token_urlsafe(16) if code is None else None
        digest = None if code is None else await digest_code(code)
        superseded = await self._records.open(challenge, digest, ref, now)
        if superseded is not None:
            await self._sync_item(*superseded)
        try:
            await self._outbox.deliver(self._item(challenge, code, ref))
        except Exception:
            # nothing reached the person: withdraw the record (there is no item to update)
            await self._records.apply(challenge.id, lambda ch, c: (cancelled(ch, now), c, None))
            raise
        return challenge

    async def _choose_factor(self, person: Person) -> tuple[FactorKind, str]:
        for factor in FACTOR_PREFERENCE:
            if factor in person.factors:
                address = await self._directory.factor_address(person.username, factor)
                if address:
                    return factor, address
        raise NoFactor(person.username)

    def _item(self, challenge: Challenge, code: str | None, ref: str | None) -> OutboxItem:
        """What lands on the person's phone or in their mailbox."""
        if code is None:
            at = f"{challenge.created_at.astimezone(UTC):%H:%M} UTC"
            text = f"Approve sign-in check for the IT desk? Requested at {at}. Deny it if not you."
        else:
            lead = "Authenticator code" if challenge.factor == "totp" else "Your verification code"
            minutes = int(self._ttl.total_seconds() // 60)
            text = (
                f"{lead} for the IT desk: {code}. Valid for {minutes} minutes. Type it only in "
                "your chat with the IT desk; nobody from IT will ask you for it."
            )
        return OutboxItem(
            id=challenge.outbox_item,
            to=challenge.username,
            channel=challenge.factor,
            address=challenge.address,
            kind=challenge.kind,
            text=text,
            secret=code,
            ref=ref,
            status="pending",
            created_at=challenge.created_at,
            expires_at=challenge.expires_at,
        )

    # --- answering -------------------------------------------------------------------------

    async def answer_push(self, person: Person, ref: str, approve: bool) -> CheckResult:
        """The person approved or denied the push carrying `ref`. A push that is not theirs
        (or unknown) is NO_CHALLENGE and changes nothing."""
        challenge = await self._records.by_ref(ref) if ref else None
        if challenge is None or challenge.username != person.username or challenge.kind != "push":
            return _NOTHING
        return await self._answer(challenge.id, approve)

    async def answer_code(self, person: Person, text: str) -> CheckResult | None:
        """Judge a message that may hold a code the person was sent. None when it holds no
        code or the person has no code check to answer, so the desk reads it as an ordinary
        message. A message with several codes in it counts as one wrong answer."""
        typed = codes_in(text)
        if not typed:
            return None
        challenge = await self._code_challenge(person.username)
        if challenge is None:
            return None
        digest = await self._records.digest(challenge.id)
        right = len(typed) == 1 and digest is not None and await code_matches(typed[0], digest)
        if challenge.status == "passed" and not right:
            return None  # some other number, typed after the check was done
        return await self._answer(challenge.id, right)

    async def _code_challenge(self, username: str) -> Challenge | None:
        """The person's pending code challenge, else the one closed most recently (within a
        ttl), which an answer may still concern (a replayed or late code)."""
        now = self._clock.now()
        mine = await self._records.of_person(username)
        codes = [c.as_of(now) for c in mine if c.kind == "code"]
        pending = next((c for c in codes if c.status == "pending"), None)
        if pending is not None:
            return pending
        closed = next((c for c in codes if c.status != "cancelled"), None)
        if closed is None or closed.closed_at is None or now >= closed.closed_at + self._ttl:
            return None
        return closed

    async def _answer(self, challenge_id: str, right: bool) -> CheckResult:
        now = self._clock.now()
        applied = await self._records.apply(
            challenge_id, lambda ch, case: judge(ch, case, right, now, self._max_failures)
        )
        if applied is None:
            return _NOTHING
        before, after, case, outcome = applied
        await self._sync_item(before, after)
        return CheckResult(outcome, after.case_id, case.failures, after)

    # --- reading and withdrawing -----------------------------------------------------------

    async def pending(self, username: str) -> Challenge | None:
        """The person's newest challenge still waiting for an answer."""
        now = self._clock.now()
        for challenge in await self._records.of_person(username):
            if challenge.status != "pending":
                continue
            if challenge.as_of(now).status == "pending":
                return challenge
            await self._settle(challenge.id)  # record the expiry the clock has reached
        return None

    async def cancel(self, case_id: str) -> None:
        """Withdraw the case's pending challenge (the case ended or moved to a human)."""
        case = await self._records.case(case_id)
        if case.current is not None:
            await self._settle(case.current, withdraw=True)

    async def failures(self, case_id: str) -> int:
        """Failed checks in a row for the case since its last pass."""
        return (await self._records.case(case_id)).failures

    async def _settle(self, challenge_id: str, *, withdraw: bool = False) -> None:
        """Persist an expiry the clock has reached, or withdraw the challenge."""
        now = self._clock.now()

        def change(ch: Challenge, case: CaseChecks) -> tuple[Challenge, CaseChecks, None]:
            return (cancelled(ch, now) if withdraw else ch.as_of(now)), case, None

        applied = await self._records.apply(challenge_id, change)
        if applied is not None:
            await self._sync_item(applied[0], applied[1])

    async def _sync_item(self, before: Challenge, after: Challenge) -> None:
        """Mirror a challenge's change on its outbox item (approved, denied, used, expired)."""
        status = item_status(before, after)
        if status is not None:
            await self._outbox.set_status(after.outbox_item, status)
