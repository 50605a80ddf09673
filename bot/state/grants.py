"""Time-bound grants in Redis: which access the desk gave for a limited time, until when, and
under which case and action (one record per person and group), and how taking it away has
gone so far."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.store import Store

Flag = Literal["overdue", "unconfirmed"]


class Grant(BaseModel):
    """Access the desk granted that ends on its own at `until`.

    A grant is reserved before the directory is written (`key`, the add's idempotency key)
    and confirmed once the add is known to have changed it (`action`); only a confirmed grant
    is ever taken away. The rest records the removal's progress: failed attempts, the first
    failure and the last error, and whether a human was told (`flag`, and the on-call
    notice's message so it can be updated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str
    user: str
    group: str
    until: datetime
    action: str | None = None
    key: str | None = None
    attempts: int = 0
    first_failure: datetime | None = None
    last_error: str | None = None
    flag: Flag | None = None
    flagged_at: datetime | None = None
    notice: str | None = None
    # An earlier grant of the same person and group, set aside while this one is only
    # reserved: it comes back if the reservation is released.
    supersedes: Grant | None = None

    @property
    def confirmed(self) -> bool:
        return self.action is not None


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

    async def find(self, case_id: str, group: str) -> Grant | None:
        """The grant a case holds on a group, if it still holds one."""
        return next((g for g in await self.of_case(case_id) if g.group == group), None)


def _field(user: str, group: str) -> str:
    return f"{user}:{group}"
