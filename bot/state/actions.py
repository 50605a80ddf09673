"""Actions in Redis, from intent to record.

Before a step touches a backend its intent is written (what, on whom, under which idempotency
key, and whether the backend was already as wanted); when its result is known the intent is
replaced by the executed action's record in one transaction. An intent still open after a
crash is what recovery reconciles by reading the backend. Beside them: each action's record by
its id (for Undo and `/itdesk undo`), the record of each idempotency key (a step run again
with the same key returns the first run's record instead of acting twice), and the cases in
`executing` (a case left there by a dead process is found and finished)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.events import ActionRecord
from bot.store import Store

KEEP_S = 30 * 86400  # how long an idempotency key is remembered

Stage = Literal["intended", "unknown"]


class StoredAction(ActionRecord):
    """An action record with the case it belongs to and when it ran."""

    case_id: str
    at: datetime


class ActionIntent(BaseModel):
    """A step about to change a backend, written before it does. `before` is whether the
    backend was already as wanted when the step began (then the step changes nothing);
    `stage` is `unknown` once a write was sent whose answer was lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    case_id: str
    skill: str
    params: dict[str, Any]
    undo_of: str | None = None
    before: bool
    stage: Stage = "intended"
    error: str | None = None
    at: datetime


class ActionRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._intents = store.key("intents")
        self._acting = store.key("cases", "acting")

    async def state_of(self, key: str) -> tuple[ActionRecord | None, ActionIntent | None]:
        """What is known of an idempotency key, in one round trip: the record of the step
        that ran under it, or the intent of one begun and not finished (or neither)."""
        async with self._store.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._store.key("idem", key))
            pipe.hget(self._intents, key)
            done, begun = await pipe.execute()
        if done is not None:
            return ActionRecord.model_validate_json(done), None
        return None, None if begun is None else ActionIntent.model_validate_json(begun)

    # --- intents ------------------------------------------------------------------------
    async def intend(self, intent: ActionIntent) -> None:
        """Write the intent before the backend is touched."""
        await self._store.redis.hset(self._intents, intent.key, intent.model_dump_json())

    async def unknown(self, intent: ActionIntent, error: str) -> ActionIntent:
        """A write went out and its answer was lost: the outcome is unknown until read back."""
        marked = intent.model_copy(update={"stage": "unknown", "error": error[:300]})
        await self.intend(marked)
        return marked

    async def abandon(self, key: str) -> None:
        """Close an intent: the step failed before changing anything (there is no record), or
        what follows it is done too."""
        await self._store.redis.hdel(self._intents, key)

    async def open_intents(self) -> list[ActionIntent]:
        raw = await self._store.redis.hgetall(self._intents)
        return [ActionIntent.model_validate_json(v) for v in raw.values()]

    # --- records ------------------------------------------------------------------------
    async def save(
        self, record: ActionRecord, *, case_id: str, at: datetime, close: bool = True
    ) -> None:
        """Keep the executed action's record and close its intent, in one transaction. With
        `close` False the intent stays open until `abandon`: what follows the step (an
        Undo's) is not done yet, and recovery finds it by the intent."""
        stored = StoredAction(**record.model_dump(), case_id=case_id, at=at)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("idem", record.idempotency_key), record.model_dump_json(),
                     ex=KEEP_S)  # fmt: skip
            pipe.set(self._store.key("action", record.action_id), stored.model_dump_json())
            if close:
                pipe.hdel(self._intents, record.idempotency_key)
            await pipe.execute()

    async def get(self, action_id: str) -> StoredAction | None:
        raw = await self._store.redis.get(self._store.key("action", action_id))
        return None if raw is None else StoredAction.model_validate_json(raw)

    # --- cases being acted on -----------------------------------------------------------
    async def acting(self, case_id: str, at: datetime) -> None:
        """A case enters `executing` (written before its status is)."""
        await self._store.redis.zadd(self._acting, {case_id: at.timestamp()}, nx=True)

    async def acted(self, case_id: str) -> None:
        """The case left `executing`."""
        await self._store.redis.zrem(self._acting, case_id)

    async def acting_since(self, before: datetime) -> list[str]:
        """Cases that entered `executing` before `before` and have not left it, oldest first."""
        ids = await self._store.redis.zrangebyscore(self._acting, "-inf", before.timestamp())
        return [str(i) for i in ids]
