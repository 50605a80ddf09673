"""Step-up: proof that the person typing is still the person the chat platform says, by an
out-of-band check on a factor registered in the directory (a push to approve, or a one-time
code sent by SMS, e-mail or the authenticator app), never a question answered in chat.

Checks go through the `Checks` port. A push's answer is read from the provider when a front
end signals that it came (a `CHECK_ANSWERED` click naming the check), never taken from the
turn itself. A code is judged by whoever the provider says verifies it: the desk, against
the salted slow digest it keeps of the code it minted, or the provider.

A failed check may be retried; when another check may be sent, and which failure in a row
ends self-service for the case, is policy's (`CheckLimits`: the desk counts, policy
decides). State is shared through Redis (`verification.records`), so any desk process may
issue a challenge and any other may judge the answer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from bot.clock import Clock
from bot.models import FactorKind, Person
from bot.ports import CheckRequest, Checks, Directory, NotFoundError, Unsupported
from bot.store import Store
from bot.texts import say
from verification.challenge import (
    CaseChecks,
    Challenge,
    CheckOutcome,
    CheckResult,
    LockedOut,
    LocksOut,
    cancelled,
    judge,
    judge_push,
    released,
)
from verification.codes import code_matches, codes_in, digest_code, mint_code
from verification.records import ChallengeRecords, Recent

__all__ = [
    "CHECK_ANSWERED",
    "Challenge",
    "CheckOutcome",
    "CheckResult",
    "LockedOut",
    "NoFactor",
    "StepUp",
    "Throttled",
]

log = structlog.get_logger("itdesk.stepup")

DEFAULT_TTL = timedelta(minutes=10)
# The click a front end sends once the person answered a push at the provider (on the sandbox
# phone, or a provider's webhook): its ref is the check id, and it carries no answer.
CHECK_ANSWERED = "check.answered"


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


@dataclass(frozen=True)
class CheckCounts:
    """What the desk counted for a person before another check: checks sent this hour by
    kind, credential changes the desk made today, failed checks in a row for the request."""

    pushes_last_hour: int
    codes_last_hour: int
    credential_changes_last_day: int
    failures_in_row: int


class CheckLimits(Protocol):
    """Whether another check may be sent (policy decides; the desk counts). `refuses` is
    None when it may, else why not: `too_many_failures` ends self-service for the request,
    anything else (`too_many_checks`) is a pause. It must have no side effects."""

    def refuses(self, person: Person, counts: CheckCounts) -> str | None: ...


TOO_MANY_FAILURES = "too_many_failures"


class StepUp:
    """Issues challenges on a person's strongest registered factor and judges the answers:
    failures in a row are counted per case, and `limits` say when another check may be sent
    and when the failures end self-service."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        directory: Directory,
        checks: Checks,
        limits: CheckLimits,
        *,
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._records = ChallengeRecords(store)
        self._clock = clock
        self._directory = directory
        self._checks = checks
        self._limits = limits
        self._ttl = ttl

    def now(self) -> datetime:
        return self._clock.now()

    # --- issuing ---------------------------------------------------------------------------

    async def challenge(self, person: Person, case_id: str) -> Challenge:
        """Send a check for the case to the first factor the providers reach for the person
        (each provider lists its reach strongest first: push, an authenticator code, SMS,
        e-mail; a factor the provider turns out not to reach is passed over) and return it.
        A pending challenge of the same case is withdrawn.
        Raises `NoFactor`, `Throttled` or `LockedOut`."""
        factors = await self._factors(person)
        case = await self._records.case(case_id)
        if case.locked:
            raise LockedOut(case_id)
        now = self._clock.now()
        recent = await self._records.recent(person.username, now)
        refused = self._limits.refuses(person, _counts(recent, case.failures))
        if refused == TOO_MANY_FAILURES:
            raise LockedOut(case_id)
        if refused is not None:
            raise Throttled(recent.oldest_leaves_in or 1)
        for factor, address in factors:
            try:
                challenge = await self._issue(person, case_id, factor, address)
                await self._records.count_sent(person.username, challenge.kind, challenge.id, now)
                return challenge
            except Unsupported as exc:
                log.info("stepup.factor_unsupported", factor=factor, capability=exc.capability)
        raise NoFactor(person.username)

    async def _factors(self, person: Person) -> list[tuple[FactorKind, str]]:
        found = [(r.factor, r.address) for r in await self._checks.reachable(person.username)]
        if not found:
            raise NoFactor(person.username)
        return found

    async def _issue(
        self, person: Person, case_id: str, factor: FactorKind, address: str
    ) -> Challenge:
        now = self._clock.now()
        challenge = Challenge(
            id=_challenge_id(),
            case_id=case_id,
            username=person.username,
            factor=factor,
            address=address,
            kind="push" if factor == "push" else "code",
            created_at=now,
            expires_at=now + self._ttl,
        )
        code = None if challenge.kind == "push" else mint_code()
        digest = None if code is None else await digest_code(code)
        superseded = await self._records.open(challenge, digest, now)
        if superseded is not None:
            await self._release(*superseded)
        request = CheckRequest(
            key=challenge.id,
            username=person.username,
            factor=factor,
            message=self._message(challenge),
            code=code,
            expires_at=challenge.expires_at,
        )
        try:
            issued = await self._checks.issue(request)
        except Exception:
            # nothing reached the person: withdraw the record (there is no check to withdraw)
            await self._records.apply(challenge.id, lambda ch, c: (cancelled(ch, now), c, None))
            raise
        return await self._records.attach(challenge.id, issued) or challenge

    def _message(self, challenge: Challenge) -> str:
        """What the person is shown on the phone or in the mailbox ({code}: where it goes)."""
        if challenge.kind == "push":
            at = f"{challenge.created_at.astimezone(UTC):%H:%M} UTC"
            return say("step_up.push_prompt", at=at)
        lead = say("step_up.code_lead_totp" if challenge.factor == "totp" else "step_up.code_lead")
        minutes = int(self._ttl.total_seconds() // 60)
        return say("step_up.code_message", lead=lead, minutes=minutes)

    # --- answering -------------------------------------------------------------------------

    async def answer_push(self, person: Person, check_id: str) -> CheckResult:
        """A front end says the push `check_id` was answered: read the answer from the
        provider and apply it. A push that is not theirs (or unknown) is NO_CHALLENGE and
        changes nothing; one still unanswered at the provider is WAITING."""
        challenge = await self._records.by_check(check_id) if check_id else None
        if challenge is None or challenge.username != person.username or challenge.kind != "push":
            return _NOTHING
        try:
            state = await self._checks.result(check_id)
        except NotFoundError:
            return _NOTHING
        now = self._clock.now()
        locks_out = await self._locks_out(person.username)
        applied = await self._records.apply(
            challenge.id,
            lambda ch, case: judge_push(ch, case, state.status, now, locks_out),
        )
        if applied is None:
            return _NOTHING
        before, after, case, outcome = applied
        await self._release(before, after)
        return CheckResult(outcome, after.case_id, case.failures, after)

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
        right = len(typed) == 1 and await self._is_right(challenge, typed[0])
        if challenge.status == "passed" and not right:
            return None  # some other number, typed after the check was done
        return await self._answer(person.username, challenge.id, right)

    async def _is_right(self, challenge: Challenge, code: str) -> bool:
        if challenge.verifier == "provider" and challenge.status == "pending":
            if challenge.check_id is None:
                return False
            try:
                right = await self._checks.verify_code(challenge.check_id, code)
            except NotFoundError:
                return False
            if right:  # kept so that the same code typed again reads as a replay
                await self._records.keep_digest(challenge.id, await digest_code(code))
            return right
        digest = await self._records.digest(challenge.id)
        return digest is not None and await code_matches(code, digest)

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

    async def _answer(self, username: str, challenge_id: str, right: bool) -> CheckResult:
        now = self._clock.now()
        locks_out = await self._locks_out(username)
        applied = await self._records.apply(
            challenge_id, lambda ch, case: judge(ch, case, right, now, locks_out)
        )
        if applied is None:
            return _NOTHING
        before, after, case, outcome = applied
        await self._release(before, after)
        return CheckResult(outcome, after.case_id, case.failures, after)

    # --- reading and withdrawing -----------------------------------------------------------

    async def note_change(self, person: Person, what: str) -> None:
        """Count a change the desk made to the person's credentials (policy may limit checks
        after several in a day)."""
        await self._records.count_change(person.username, what, self._clock.now())

    async def _locks_out(self, username: str) -> LocksOut:
        """Whether a failure count ends self-service for the person, as policy says now."""
        person = await self._directory.person(username)
        recent = await self._records.recent(username, self._clock.now())
        if person is None:
            return lambda failures: True
        limits = self._limits
        return lambda failures: (
            limits.refuses(person, _counts(recent, failures)) == (TOO_MANY_FAILURES)
        )

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
            await self._release(applied[0], applied[1])

    async def _release(self, before: Challenge, after: Challenge) -> None:
        """Have the provider withdraw a check the desk no longer takes answers to. The desk's
        own record already refuses them, so a provider that cannot, or fails to, only leaves
        a check open there that nothing will act on."""
        if not released(before, after) or after.check_id is None:
            return
        try:
            await self._checks.withdraw(after.check_id)
        except (Unsupported, NotFoundError) as exc:
            log.info("stepup.withdraw_skipped", check=after.check_id, reason=str(exc))
        except Exception:
            log.warning("stepup.withdraw_failed", check=after.check_id, exc_info=True)


def _counts(recent: Recent, failures: int) -> CheckCounts:
    return CheckCounts(recent.pushes, recent.codes, recent.changes, failures)


def _challenge_id() -> str:
    return f"su-{secrets.token_hex(8)}"
