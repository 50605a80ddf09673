"""Approval requests in Redis: one record per request, and the set of those still pending.
A decision is written only over a pending request, in one script: of two decisions at once
(Approve and Deny pressed together, a click and the expiry), the first wins."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.store import Store

ApprovalStatus = Literal["pending", "approved", "denied", "expired"]


class Approval(BaseModel):
    """One approval request for one case, addressed to named approvers."""

    model_config = ConfigDict(extra="forbid")

    id: str
    case_id: str
    requester: str
    kind: str  # the approver kind policy asked for: group_owner, manager, hr, security...
    approvers: list[str]
    status: ApprovalStatus = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    created_at: datetime
    expires_at: datetime
    title: str
    fields: list[tuple[str, str]] = Field(default_factory=list)
    messages: dict[str, str] = Field(default_factory=dict)  # approver -> message id
    refs: dict[str, str] = Field(default_factory=dict)  # "approve"/"deny" -> button ref


class ApprovalRepository:
    """Approval records, and which are pending."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending = store.key("approvals", "pending")

    def _key(self, approval_id: str) -> str:
        return self._store.key("approval", approval_id)

    async def get(self, approval_id: str) -> Approval | None:
        raw = await self._store.redis.get(self._key(approval_id))
        return None if raw is None else Approval.model_validate_json(raw)

    async def save(self, approval: Approval) -> None:
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(approval.id), approval.model_dump_json())
            if approval.status == "pending":
                pipe.sadd(self._pending, approval.id)
            else:
                pipe.srem(self._pending, approval.id)
            await pipe.execute()

    async def decide(self, decided: Approval) -> Approval | None:
        """Store `decided` if the stored request is still pending; else None (another
        decision got there first: `get` says which)."""
        key, json = self._key(decided.id), decided.model_dump_json()
        won = await self._store.redis.eval(_DECIDE, 2, key, self._pending, json, decided.id)
        return decided if int(won) else None

    async def pending_count(self) -> int:
        return int(await self._store.redis.scard(self._pending))


# KEYS: the request, the pending set. ARGV: the decided request, its id. 1 when written.
_DECIDE = """
local raw = redis.call('GET', KEYS[1])
if not raw or cjson.decode(raw)['status'] ~= 'pending' then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""
