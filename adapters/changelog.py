"""A backend change log kept in Redis: the sandbox's stand-in for the logs real backends keep
of what they changed (Okta's system log, Graph's directory audit, Intune's audit events).
Each change is queued on the same transaction as the write it describes, so a change and its
entry are there together or not at all. A sorted set scored by time serves `changes`."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast

from redis.asyncio.client import Pipeline

from bot.clock import Clock
from bot.ports import BackendChange, ChangeOp
from bot.store import Store


class RedisChangeLog:
    """The `ChangeLog` port over one sorted set (`<namespace>:changes`)."""

    def __init__(self, store: Store, source: str, clock: Clock) -> None:
        self._store = store
        self.key = store.key("changes")
        self._source = source
        self._clock = clock

    def entry(self, op: ChangeOp, **target: str | bool) -> tuple[str, float]:
        """The sorted set's member and score for a change made now (for a script that
        decides whether the write changed anything)."""
        change = BackendChange.model_validate(
            {"id": secrets.token_hex(6), "at": self._clock.now(), "source": self._source,
             "op": op, **target}
        )  # fmt: skip
        return change.model_dump_json(exclude_none=True), change.at.timestamp()

    def stage(self, pipe: Pipeline, op: ChangeOp, **target: str | bool) -> None:
        """Queue the entry of a change on the transaction that makes it."""
        member, score = self.entry(op, **target)
        pipe.zadd(self.key, {member: score})

    async def changes(self, since: datetime, until: datetime) -> list[BackendChange]:
        rows = await self._store.redis.zrangebyscore(self.key, since.timestamp(), until.timestamp())
        return [BackendChange.model_validate_json(cast(str, row)) for row in rows]
