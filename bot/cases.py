"""Cases: one request each, with a lifecycle and an append-only list of events.

A case's state is never stored on its own: it is rebuilt by folding its events, so what the
desk believes and what the audit trail says cannot drift apart."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.audit import AuditLog
from bot.clock import Clock
from bot.store import Store


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


class StaleLock(CaseError):
    """The conversation lock was lost before the write: another worker owns it now."""


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


class CaseStore:
    """Cases in Redis: an event list per case, an index per requester, and every event also
    appended to the hash-chained audit log."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    def _events_key(self, case_id: str) -> str:
        return self._store.key("case", case_id, "events")

    async def open(
        self,
        *,
        requester: str,
        conversation: str,
        platform: str,
        text: str,
        fence: tuple[str, int] | None = None,
        correlation_id: str | None = None,
    ) -> Case:
        case_id = new_case_id()
        event = CaseEvent(
            at=self._clock.now(),
            type="opened",
            actor=requester,
            status=CaseStatus.NEW,
            data={
                "requester": requester,
                "conversation": conversation,
                "platform": platform,
                "text": text,
                "correlation_id": correlation_id,
            },
        )
        await self._write(case_id, event, fence)
        r = self._store.redis
        await r.rpush(self._store.key("cases", "by_requester", requester), case_id)
        await r.rpush(self._store.key("cases", "all"), case_id)
        return Case.from_events(case_id, [event.model_copy(update={"seq": 1})])

    async def append(
        self,
        case: Case,
        type: str,
        *,
        actor: str,
        status: CaseStatus | None = None,
        data: dict[str, Any] | None = None,
        fence: tuple[str, int] | None = None,
    ) -> Case:
        """Record an event on `case` (moving it to `status`, if given) and return the case as
        it now is. Refuses a transition the lifecycle does not allow."""
        if status is not None and not case.can_move_to(status):
            raise CaseError(f"case {case.id}: {case.status} -> {status} is not allowed")
        event = CaseEvent(
            at=self._clock.now(), type=type, actor=actor, status=status, data=data or {}
        )
        seq = await self._write(case.id, event, fence)
        case._apply(event.model_copy(update={"seq": seq}))
        return case

    async def _write(self, case_id: str, event: CaseEvent, fence: tuple[str, int] | None) -> int:
        payload = event.model_dump(mode="json", exclude={"seq"})
        if fence is not None:
            lock_key, token = fence
            seq = await self._store.redis.eval(
                _FENCED_RPUSH,
                2,
                lock_key,
                self._events_key(case_id),
                str(token),
                json.dumps(payload),
            )
            if int(seq) < 0:
                raise StaleLock(f"lost the conversation lock while writing case {case_id}")
        else:
            seq = await self._store.redis.rpush(self._events_key(case_id), json.dumps(payload))
        await self._audit.append({"case": case_id, "seq": int(seq), **payload})
        return int(seq)

    async def get(self, case_id: str) -> Case | None:
        raw = await self._store.redis.lrange(self._events_key(case_id), 0, -1)
        if not raw:
            return None
        events = [
            CaseEvent.model_validate({**json.loads(item), "seq": i + 1})
            for i, item in enumerate(raw)
        ]
        return Case.from_events(case_id, events)

    async def ids_of(self, requester: str) -> list[str]:
        return [
            str(x)
            for x in await self._store.redis.lrange(
                self._store.key("cases", "by_requester", requester), 0, -1
            )
        ]

    async def of_requester(self, requester: str) -> list[Case]:
        cases = [await self.get(cid) for cid in await self.ids_of(requester)]
        return [c for c in cases if c is not None]

    async def latest_open(self, requester: str) -> Case | None:
        for case_id in reversed(await self.ids_of(requester)):
            case = await self.get(case_id)
            if case is not None and case.open:
                return case
        return None

    async def all_ids(self) -> list[str]:
        return [
            str(x) for x in await self._store.redis.lrange(self._store.key("cases", "all"), 0, -1)
        ]


# Append only while the caller still holds the conversation lock with this fencing token.
_FENCED_RPUSH = """
local held = redis.call('GET', KEYS[1])
if held ~= ARGV[1] then return -1 end
return redis.call('RPUSH', KEYS[2], ARGV[2])
"""
