"""Cases: one request each, with a lifecycle and an append-only list of events.

A case's state is never stored on its own: it is rebuilt by folding its events, so what the
desk believes and what the audit trail says cannot drift apart."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bot.events import (
    AnsweredQuestion,
    Approved,
    Asked,
    Claimed,
    Decided,
    Escalated,
    Event,
    Opened,
    Planned,
    Understood,
    Verified,
    counts_as_human,
    data_of,
    parse,
)
from bot.models import Understanding
from bot.plans import Plan


class CaseStatus(StrEnum):
    NEW = "new"
    VERIFYING = "verifying"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    RESOLVED = "resolved"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


S = CaseStatus
# Where a case may go from each state. `resolved` and `answered` may reopen to a human
# ("Didn't help", "Still broken"); `refused` and `cancelled` are final.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset(
        {
            S.VERIFYING,
            S.AWAITING_APPROVAL,
            S.EXECUTING,
            S.RESOLVED,
            S.ANSWERED,
            S.ESCALATED,
            S.REFUSED,
            S.CANCELLED,
        }
    ),
    S.VERIFYING: frozenset({S.AWAITING_APPROVAL, S.EXECUTING, S.ESCALATED, S.REFUSED, S.CANCELLED}),
    S.AWAITING_APPROVAL: frozenset({S.EXECUTING, S.REFUSED, S.CANCELLED, S.ESCALATED}),
    S.EXECUTING: frozenset({S.RESOLVED, S.ESCALATED, S.REFUSED}),
    S.ANSWERED: frozenset({S.ESCALATED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.ESCALATED}),
    S.ESCALATED: frozenset({S.CLAIMED, S.RESOLVED, S.CANCELLED, S.REFUSED}),
    S.CLAIMED: frozenset({S.RESOLVED, S.REFUSED, S.CANCELLED, S.ESCALATED}),
    S.REFUSED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATUSES = frozenset(
    {S.NEW, S.VERIFYING, S.AWAITING_APPROVAL, S.EXECUTING, S.ESCALATED, S.CLAIMED}
)


class CaseError(Exception):
    """A case operation that the lifecycle does not allow (a bug in the caller)."""


class CaseEvent(BaseModel):
    """One thing that happened to a case: when, who did it, the state it moved the case to
    (if any), and what happened, as its typed model (`bot.events`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = 0
    at: datetime
    actor: str  # a username, "desk", or "system"
    status: CaseStatus | None = None
    event: Event

    @property
    def type(self) -> str:
        return self.event.type

    def stored(self) -> dict[str, Any]:
        """The event as the case's list and the audit trail keep it."""
        envelope = self.model_dump(mode="json", include={"at", "actor", "status"})
        return {"at": envelope["at"], "type": self.type, "actor": envelope["actor"],
                "status": envelope["status"], "data": data_of(self.event)}  # fmt: skip

    @classmethod
    def from_stored(cls, raw: dict[str, Any], seq: int) -> CaseEvent:
        return cls(seq=seq, at=raw["at"], actor=raw["actor"], status=raw.get("status"),
                   event=parse(raw["type"], dict(raw.get("data") or {})))  # fmt: skip


E = TypeVar("E", bound=BaseModel)


class Case(BaseModel):
    """The state of one request, as rebuilt from its events."""

    model_config = ConfigDict(extra="forbid")

    id: str
    requester: str
    conversation: str
    platform: str
    status: CaseStatus = CaseStatus.NEW
    text: str = ""
    intent: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = None
    ticket_id: str | None = None
    claimed_by: str | None = None
    opened_at: datetime
    updated_at: datetime
    humans: list[str] = Field(default_factory=list)  # people other than the requester who acted
    events: list[CaseEvent] = Field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def from_events(cls, case_id: str, events: list[CaseEvent]) -> Case:
        first = events[0].event if events else None
        if not isinstance(first, Opened):
            raise CaseError(f"case {case_id} has no 'opened' event")
        case = cls(
            id=case_id,
            requester=first.requester,
            conversation=first.conversation,
            platform=first.platform,
            text=first.text,
            opened_at=events[0].at,
            updated_at=events[0].at,
        )
        for event in events:
            case._apply(event)
        return case

    def _apply(self, envelope: CaseEvent) -> None:
        self.events.append(envelope)
        self.updated_at = envelope.at
        event = envelope.event
        if isinstance(event, Understood):
            self.intent = event.understanding.intent
            self.slots = dict(event.understanding.slots)
        if isinstance(event, Escalated):
            self.queue = event.queue
            self.ticket_id = event.ticket_id
        if isinstance(event, Claimed):
            self.claimed_by = envelope.actor
        if envelope.status is not None:
            self.status = envelope.status
        actor = envelope.actor
        if (
            actor not in {"desk", "system", self.requester}
            and counts_as_human(event)
            and actor not in self.humans
        ):
            self.humans.append(actor)

    def can_move_to(self, status: CaseStatus) -> bool:
        return status == self.status or status in TRANSITIONS[self.status]

    # --- what the events say -------------------------------------------------------------
    def last(self, kind: type[E]) -> E | None:
        """The newest event of a kind."""
        for envelope in reversed(self.events):
            if isinstance(envelope.event, kind):
                return envelope.event
        return None

    def all(self, kind: type[E]) -> list[tuple[CaseEvent, E]]:
        """Every event of a kind, oldest first, with its envelope."""
        return [(e, e.event) for e in self.events if isinstance(e.event, kind)]

    def plan(self) -> Plan | None:
        planned = self.last(Planned)
        return planned.plan if planned else None

    def understood(self) -> Understanding | None:
        understood = self.last(Understood)
        return understood.understanding if understood else None

    def approvals(self) -> frozenset[str]:
        """The approver kinds that have said yes to this case."""
        return frozenset(event.kind for _, event in self.all(Approved))

    def approvers(self) -> list[str]:
        return [envelope.actor for envelope, _ in self.all(Approved)]

    def acting_policies(self) -> tuple[str, ...]:
        """The policies that let the desk act for the case (its newest decision to act)."""
        for _, decided in reversed(self.all(Decided)):
            if decided.route == "act":
                return tuple(decided.policies)
        return ()

    def verification(self) -> dict[str, Any] | None:
        """The step-up that passed for this case, as the audit records it."""
        verified = self.last(Verified)
        return data_of(verified) if verified else None

    def open_question(self) -> Asked | None:
        """The clarifying question the case is waiting on, if its newest plan-shaping event
        is one."""
        if self.status != CaseStatus.NEW:
            return None
        for envelope in reversed(self.events):
            if isinstance(envelope.event, Asked):
                return envelope.event
            if isinstance(envelope.event, AnsweredQuestion | Planned):
                return None
        return None


def new_case_id() -> str:
    return "C-" + secrets.token_hex(4).upper()
