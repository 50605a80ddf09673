"""Time-bound grants in Redis: which access the desk gave for a limited time, until when, and
under which case and action (one record per person and group)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.store import Store


class Grant(BaseModel):
    """Access the desk granted that ends on its own at `until`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str
    user: str
    group: str
    until: datetime
    action: str


class GrantRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._key = store.key("grants")

    async def put(self, grant: Grant) -> None:
        await self._store.redis.hset(self._key, _field(grant.user, grant.group),
                                     grant.model_dump_json())  # fmt: skip

    async def get(self, user: str, group: str) -> Grant | None:
        raw = await self._store.redis.hget(self._key, _field(user, group))
        return None if raw is None else Grant.model_validate_json(raw)

    async def remove(self, user: str, group: str) -> None:
        await self._store.redis.hdel(self._key, _field(user, group))

    async def all(self) -> list[Grant]:
        raw = await self._store.redis.hgetall(self._key)
        return [Grant.model_validate_json(v) for v in raw.values()]

    async def of_case(self, case_id: str) -> list[Grant]:
        return [grant for grant in await self.all() if grant.case == case_id]


def _field(user: str, group: str) -> str:
    return f"{user}:{group}"
