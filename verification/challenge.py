"""A step-up challenge and the rules for answering one, as pure functions over its record
and its case's record: what an answer does to both, and what the provider's word on a push
means for it. `verification.stepup` applies them atomically in Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from bot.models import FactorKind
from bot.ports import CheckStatus, Verifier

ChallengeStatus = Literal["pending", "passed", "failed", "expired", "cancelled"]


class Challenge(BaseModel):
    """An out-of-band check sent to a person for a case: a push to approve, or a one-time
    code to type back. It never holds the code itself (that went to the provider and, when
    the desk checks it, is kept as a salted digest beside this record). `check_id` is the
    provider's id for it, once issued; `verifier` who judges a code. `address` is masked."""

    model_config = ConfigDict(extra="forbid")

    id: str
    case_id: str
    username: str
    factor: FactorKind
    address: str
    kind: Literal["push", "code"]
    created_at: datetime
    expires_at: datetime
    check_id: str | None = None
    verifier: Verifier = "desk"
    number: str | None = None  # a push's number challenge: the number to pick on the phone
    status: ChallengeStatus = "pending"
    closed_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_record(cls, data: Any) -> Any:
        # records written before the Checks port named the sandbox outbox item instead of a
        # check; they stay readable (and answerable by code) until they expire
        if isinstance(data, dict) and "outbox_item" in data:
            return {k: v for k, v in data.items() if k != "outbox_item"}
        return data

    def as_of(self, now: datetime) -> Challenge:
        """The challenge as it stands at `now`: a pending one past its expiry is expired."""
        if self.status == "pending" and now >= self.expires_at:
            return self.model_copy(update={"status": "expired", "closed_at": self.expires_at})
        return self

    def close(self, status: ChallengeStatus, now: datetime) -> Challenge:
        return self.model_copy(update={"status": status, "closed_at": now})


class LockedOut(Exception):
    """Self-service has ended for the case (too many failed checks): no new challenge."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"step-up ended for case {case_id!r}")
        self.case_id = case_id


class CaseChecks(BaseModel):
    """Step-up state of one case: its current challenge, failures in a row, and whether
    self-service has ended for it (too many failures)."""

    model_config = ConfigDict(extra="forbid")

    current: str | None = None
    failures: int = 0
    locked: bool = False


class CheckOutcome(StrEnum):
    """What an answer to a challenge came to."""

    PASSED = "passed"
    FAILED = "failed"  # wrong code or push denied; the person may try again
    LOCKED_OUT = "locked_out"  # the failure that ends self-service for the case
    EXPIRED = "expired"
    REPLAYED = "replayed"  # an already used code or push, answered again
    WAITING = "waiting"  # the provider has no answer to the push yet
    NO_CHALLENGE = "no_challenge"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of an answer, the case it concerns and its failures in a row since the
    last pass."""

    outcome: CheckOutcome
    case_id: str | None
    failures_in_row: int
    challenge: Challenge | None


LocksOut = Callable[[int], bool]  # whether that many failures in a row end self-service


def judge(
    challenge: Challenge, case: CaseChecks, right: bool, now: datetime, locks_out: LocksOut
) -> tuple[Challenge, CaseChecks, CheckOutcome]:
    """Apply one answer (`right`: the right code, or the push approved) to a challenge and
    its case; returns both as they are afterwards and the outcome. `locks_out` says whether
    a failure count ends self-service (policy decides; it must have no side effects)."""
    if case.locked:
        return challenge, case, CheckOutcome.NO_CHALLENGE
    current = challenge.as_of(now)
    if current.status == "pending":
        return _answer_pending(current, case, right, now, locks_out)
    return current, case, _SETTLED[current.status]


_SETTLED = {
    "passed": CheckOutcome.REPLAYED,
    "failed": CheckOutcome.REPLAYED,  # a denied push, pressed again
    "expired": CheckOutcome.EXPIRED,
    "cancelled": CheckOutcome.NO_CHALLENGE,
}


def judge_push(
    challenge: Challenge, case: CaseChecks, answer: CheckStatus, now: datetime,
    locks_out: LocksOut,
) -> tuple[Challenge, CaseChecks, CheckOutcome]:  # fmt: skip
    """Apply what the provider says of a push (`Checks.result`) to its challenge and case:
    approved and denied are answers; no answer yet changes nothing; a push that timed out
    unanswered at the provider is a failed check (counted, so ignored pushes end in a
    human, as denied ones do); a withdrawal there closes a challenge the desk still had
    open."""
    if answer in {"approved", "denied"}:
        return judge(challenge, case, answer == "approved", now, locks_out)
    current = challenge.as_of(now)
    if case.locked:
        return current, case, CheckOutcome.NO_CHALLENGE
    # timed out unanswered, at the provider or by the desk's clock, and judged now: a
    # failed check
    if challenge.status == "pending" and "expired" in {answer, current.status}:
        failures = case.failures + 1
        closed = current if current.status == "expired" else current.close("expired", now)
        if locks_out(failures):
            locked = case.model_copy(update={"failures": failures, "locked": True})
            return closed, locked, CheckOutcome.LOCKED_OUT
        return closed, case.model_copy(update={"failures": failures}), CheckOutcome.EXPIRED
    if current.status != "pending":
        return current, case, _SETTLED[current.status]
    if answer == "pending":
        return current, case, CheckOutcome.WAITING
    return current.close("cancelled", now), case, CheckOutcome.NO_CHALLENGE


def _answer_pending(
    challenge: Challenge, case: CaseChecks, right: bool, now: datetime, locks_out: LocksOut
) -> tuple[Challenge, CaseChecks, CheckOutcome]:
    if right:
        passed = challenge.close("passed", now)
        return passed, case.model_copy(update={"failures": 0}), CheckOutcome.PASSED
    failures = case.failures + 1
    if locks_out(failures):
        locked = case.model_copy(update={"failures": failures, "locked": True})
        return challenge.close("failed", now), locked, CheckOutcome.LOCKED_OUT
    # a wrong code may be typed again; a denied push is spent, a retry is a new push
    after = challenge if challenge.kind == "code" else challenge.close("failed", now)
    return after, case.model_copy(update={"failures": failures}), CheckOutcome.FAILED


def cancelled(challenge: Challenge, now: datetime) -> Challenge:
    """The challenge withdrawn by the desk (superseded, or its case ended)."""
    current = challenge.as_of(now)
    return current.close("cancelled", now) if current.status == "pending" else current


def released(before: Challenge, after: Challenge) -> bool:
    """Whether a change means the desk takes no answer to a check the provider may still
    accept, so the provider should withdraw it: a challenge withdrawn by the desk, or a code
    that failed for good. (A push answered or anything expired is closed there already; a
    code the desk accepted needs nothing from the provider.)"""
    if before.status != "pending" or after.check_id is None:
        return False
    return after.status == "cancelled" or (after.status == "failed" and after.kind == "code")
