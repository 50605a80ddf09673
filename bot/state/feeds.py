"""How far the desk has read a polled feed (lockouts, ticket changes), and which of its items
were taken on: a cursor kept between polls and shared by every desk process, and a claim per
item (an atomic SET NX), so an item seen twice, by two processes or by poll and webhook, is
acted on once."""

from __future__ import annotations

from bot.store import Store


class FeedProgress:
    """The cursor and the claims of one feed, under `store`'s keys `*prefix` (`item` names
    what a claim is on); a claim is kept `keep_s` seconds, past any window of repeats."""

    def __init__(self, store: Store, prefix: tuple[str, ...], item: str, *, keep_s: int) -> None:
        self._store = store
        self._prefix = prefix
        self._item = item
        self._keep_s = keep_s

    async def cursor(self) -> str | None:
        raw = await self._store.redis.get(self._store.key(*self._prefix, "cursor"))
        return None if raw is None else text_of(raw)

    async def save_cursor(self, cursor: str) -> None:
        await self._store.redis.set(self._store.key(*self._prefix, "cursor"), cursor)

    async def claim(self, item_id: str) -> bool:
        """Take an item on: True for the one caller that got it, False for every later one,
        in this process or another."""
        key = self._store.key(*self._prefix, self._item, item_id)
        return bool(await self._store.redis.set(key, "1", nx=True, ex=self._keep_s))

    async def release(self, item_id: str) -> None:
        """Give a claim back when acting on the item failed, so that it is tried again."""
        await self._store.redis.delete(self._store.key(*self._prefix, self._item, item_id))


def text_of(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
