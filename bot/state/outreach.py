"""What the desk keeps of reaching out about lockouts: the feed's cursor, which lockouts were
taken on (once each, by whichever desk process saw them first) and how each was answered."""

from __future__ import annotations

from bot.store import Store

KEEP_S = 90 * 86_400  # a lockout's record outlives any feed's window of repeats


class OutreachRecords:
    """The cursor and the claims of the lockout outreach, shared by every desk process."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def cursor(self) -> str | None:
        raw = await self._store.redis.get(self._store.key("outreach", "cursor"))
        return None if raw is None else _text(raw)

    async def save_cursor(self, cursor: str) -> None:
        await self._store.redis.set(self._store.key("outreach", "cursor"), cursor)

    async def claim(self, lockout_id: str) -> bool:
        """Take a lockout on: True for the one caller that got it (an atomic SET NX), False
        for every later one, in this process or another."""
        key = self._store.key("outreach", "lockout", lockout_id)
        return bool(await self._store.redis.set(key, "1", nx=True, ex=KEEP_S))

    async def release(self, lockout_id: str) -> None:
        """Give a claim back when reaching out failed, so that the next poll tries again."""
        await self._store.redis.delete(self._store.key("outreach", "lockout", lockout_id))

    async def answer(self, lockout_id: str, choice: str) -> str | None:
        """Record the person's answer; None when this is the first, else the earlier one."""
        key = self._store.key("outreach", "answer", lockout_id)
        if await self._store.redis.set(key, choice, nx=True, ex=KEEP_S):
            return None
        earlier = await self._store.redis.get(key)
        return _text(earlier) if earlier is not None else choice


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
