"""Platform deliveries the desk has seen: a retried delivery (Slack's, Teams', a double
submit) carries the same event id and is dropped."""

from __future__ import annotations

from bot.store import Store


class Deduplicator:
    """Remembers platform event ids for a day: a retried delivery is recognised and dropped."""

    def __init__(self, store: Store, *, ttl_s: int = 86_400) -> None:
        self._store = store
        self._ttl_s = ttl_s

    async def first_time(self, platform: str, event_id: str) -> bool:
        key = self._store.key("seen", platform, event_id)
        return bool(await self._store.redis.set(key, "1", nx=True, ex=self._ttl_s))
