"""Cases: one request each, with a lifecycle and an append-only list of events.

A case's state is never stored on its own: it is rebuilt by folding its events, so what the
desk believes and what the audit trail says cannot drift apart."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    """One thing that happened to a case. `status`, when set, moves the case to that state."""

    model_config = ConfigDict(extra="forbid")

    seq: int = 0
    at: datetime
    type: str
    actor: str  # a username, "desk", or "system"
    status: CaseStatus | None = None
    data: dict[str, Any] = Field(default_factory=dict)


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
        if not events or events[0].type != "opened":
            raise CaseError(f"case {case_id} has no 'opened' event")
        first = events[0]
        case = cls(
            id=case_id,
            requester=first.data["requester"],
            conversation=first.data["conversation"],
            platform=first.data.get("platform", ""),
            text=first.data.get("text", ""),
            opened_at=first.at,
            updated_at=first.at,
        )
        for event in events:
            case._apply(event)
        return case

    def _apply(self, event: CaseEvent) -> None:
        self.events.append(event)
        self.updated_at = event.at
        data = event.data
        if event.type == "understood":
            self.intent = data.get("intent")
            self.slots = dict(data.get("slots") or {})
        if "queue" in data and event.type in {"escalated", "routed"}:
            self.queue = data["queue"]
        if "ticket_id" in data:
            self.ticket_id = data["ticket_id"]
        if event.type == "claimed":
            self.claimed_by = event.actor
        if event.status is not None:
            self.status = event.status
        if (
            event.actor not in {"desk", "system", self.requester}
            and event.data.get("human", True)
            and event.actor not in self.humans
        ):
            self.humans.append(event.actor)

    def can_move_to(self, status: CaseStatus) -> bool:
        return status == self.status or status in TRANSITIONS[self.status]


def new_case_id() -> str:
    return "C-" + secrets.token_hex(4).upper()
