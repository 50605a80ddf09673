"""What the desk keeps of reaching out about lockouts: the feed's cursor, which lockouts were
taken on (once each, by whichever desk process saw them first) and how each was answered."""

from __future__ import annotations

from bot.state.feeds import FeedProgress, text_of
from bot.store import Store

KEEP_S = 90 * 86_400  # a lockout's record outlives any feed's window of repeats


class OutreachRecords(FeedProgress):
    """The cursor and the claims of the lockout outreach, and the answers, shared by every
    desk process."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, ("outreach",), "lockout", keep_s=KEEP_S)

    async def answer(self, lockout_id: str, choice: str) -> str | None:
        """Record the person's answer; None when this is the first, else the earlier one."""
        key = self._store.key("outreach", "answer", lockout_id)
        if await self._store.redis.set(key, choice, nx=True, ex=KEEP_S):
            return None
        earlier = await self._store.redis.get(key)
        return text_of(earlier) if earlier is not None else choice
