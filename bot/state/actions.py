"""Executed actions in Redis: each action's record by its id (for Undo and `/itdesk undo`), the
record of each idempotency key (a step run again with the same key returns the first run's
record instead of acting twice)."""

from __future__ import annotations

from datetime import datetime

from bot.events import ActionRecord
from bot.store import Store

KEEP_S = 30 * 86400  # how long an idempotency key is remembered


class StoredAction(ActionRecord):
    """An action record with the case it belongs to and when it ran."""

    case_id: str
    at: datetime


class ActionRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def done_under(self, key: str) -> ActionRecord | None:
        """The record of the step that already ran under this idempotency key."""
        raw = await self._store.redis.get(self._store.key("idem", key))
        return None if raw is None else ActionRecord.model_validate_json(raw)

    async def save(self, record: ActionRecord, *, case_id: str, at: datetime) -> None:
        stored = StoredAction(**record.model_dump(), case_id=case_id, at=at)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("idem", record.idempotency_key), record.model_dump_json(),
                     ex=KEEP_S)  # fmt: skip
            pipe.set(self._store.key("action", record.action_id), stored.model_dump_json())
            await pipe.execute()

    async def get(self, action_id: str) -> StoredAction | None:
        raw = await self._store.redis.get(self._store.key("action", action_id))
        return None if raw is None else StoredAction.model_validate_json(raw)
