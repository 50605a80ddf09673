"""The sandbox's lockouts and the `LockoutFeed` over them. When an account of the sandbox
directory locks itself after failed sign-ins (`SandboxDirectory.lock_out`, the sandbox's
stand-in for someone mistyping their password too often) the lockout is recorded in the
same transaction as the lock, in a sorted set scored by its time. The cursor is the time of
the newest lockout seen (a first poll: now); a page holds the lockouts from that time on,
so one at the very cursor comes again and the desk drops it by its id."""

from __future__ import annotations

import secrets
from typing import cast

from redis.asyncio.client import Pipeline

from bot.clock import Clock
from bot.ports import Lockout, LockoutPage
from bot.store import Store

SOURCE = "sandbox"


class SandboxLockouts:
    """The lockout record of a sandbox directory (`store`: the directory's namespace)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.key = store.key("lockouts")

    def stage(self, pipe: Pipeline, username: str, reason: str) -> None:
        """Queue the record of a lockout happening now on the transaction that locks."""
        at = self._clock.now()
        lockout = Lockout(id=f"sandbox-{secrets.token_hex(6)}", username=username, at=at,
                          source=SOURCE, reason=reason)  # fmt: skip
        pipe.zadd(self.key, {lockout.model_dump_json(): at.timestamp()})

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        now = self._clock.now().timestamp()
        if cursor is None:
            return LockoutPage(cursor=repr(now))
        try:
            since = float(cursor)
        except ValueError:
            raise ValueError(f"not a sandbox lockout cursor: {cursor[:40]!r}") from None
        rows = await self._store.redis.zrangebyscore(self.key, since, "+inf")
        found = tuple(Lockout.model_validate_json(cast(str, row)) for row in rows)
        newest = max([since, *(lockout.at.timestamp() for lockout in found)])
        return LockoutPage(lockouts=found, cursor=repr(newest))
