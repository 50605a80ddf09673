"""A step-up challenge and the rules for answering one, as pure functions over its record
and its case's record: what an answer does to both, and what it means for the outbox item
the person was sent. `verification.stepup` applies them atomically in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.models import FactorKind
from bot.ports import OutboxStatus

ChallengeStatus = Literal["pending", "passed", "failed", "expired", "cancelled"]


class Challenge(BaseModel):
    """An out-of-band check sent to a person for a case: a push to approve, or a one-time
    code to type back. It never holds the code itself (that stays with the outbox item and,
    as a salted digest, beside this record). `address` is masked."""

    model_config = ConfigDict(extra="forbid")

    id: str
    case_id: str
    username: str
    factor: FactorKind
    address: str
    kind: Literal["push", "code"]
    outbox_item: str
    created_at: datetime
    expires_at: datetime
    status: ChallengeStatus = "pending"
    closed_at: datetime | None = None

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
    NO_CHALLENGE = "no_challenge"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of an answer, the case it concerns and its failures in a row since the
    last pass."""

    outcome: CheckOutcome
    case_id: str | None
    failures_in_row: int
    challenge: Challenge | None


def judge(
    challenge: Challenge, case: CaseChecks, right: bool, now: datetime, max_failures: int
) -> tuple[Challenge, CaseChecks, CheckOutcome]:
    """Apply one answer (`right`: the right code, or the push approved) to a challenge and
    its case; returns both as they are afterwards and the outcome."""
    if case.locked:
        return challenge, case, CheckOutcome.NO_CHALLENGE
    current = challenge.as_of(now)
    if current.status == "pending":
        return _answer_pending(current, case, right, now, max_failures)
    settled = {
        "passed": CheckOutcome.REPLAYED,
        "failed": CheckOutcome.REPLAYED,  # a denied push, pressed again
        "expired": CheckOutcome.EXPIRED,
        "cancelled": CheckOutcome.NO_CHALLENGE,
    }
    return current, case, settled[current.status]


def _answer_pending(
    challenge: Challenge, case: CaseChecks, right: bool, now: datetime, max_failures: int
) -> tuple[Challenge, CaseChecks, CheckOutcome]:
    if right:
        passed = challenge.close("passed", now)
        return passed, case.model_copy(update={"failures": 0}), CheckOutcome.PASSED
    failures = case.failures + 1
    if failures >= max_failures:
        locked = case.model_copy(update={"failures": failures, "locked": True})
        return challenge.close("failed", now), locked, CheckOutcome.LOCKED_OUT
    # a wrong code may be typed again; a denied push is spent, a retry is a new push
    after = challenge if challenge.kind == "code" else challenge.close("failed", now)
    return after, case.model_copy(update={"failures": failures}), CheckOutcome.FAILED


def cancelled(challenge: Challenge, now: datetime) -> Challenge:
    """The challenge withdrawn by the desk (superseded, or its case ended)."""
    current = challenge.as_of(now)
    return current.close("cancelled", now) if current.status == "pending" else current


def item_status(before: Challenge, after: Challenge) -> OutboxStatus | None:
    """What the challenge's outbox item becomes after a change, or None to leave it."""
    if before.status == after.status:
        return None
    if after.status == "passed":
        return "approved" if after.kind == "push" else "used"
    if after.status == "failed" and after.kind == "push":
        return "denied"
    return "expired"  # a code spent on failures, or anything expired or cancelled
