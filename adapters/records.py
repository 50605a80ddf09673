"""Pydantic records kept in Redis, one JSON value per record plus an index of ids, with
read-modify-write updates that retry when another worker changed the record in between
(WATCH/MULTI), so concurrent desk workers never lose each other's changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from bot.ports import NotFoundError
from bot.store import Store

M = TypeVar("M", bound=BaseModel)


def text(value: bytes | str) -> str:
    """A Redis reply as text (the client decodes replies, but its types do not say so)."""
    return value.decode() if isinstance(value, bytes) else value


class JsonRecords(Generic[M]):
    """The records of one kind (`person`, `device`, `ticket`...) under a store's namespace."""

    def __init__(self, store: Store, kind: str, model: type[M]) -> None:
        self._store = store
        self._kind = kind
        self._model = model
        self._index = store.key("index", kind)

    def key(self, record_id: str) -> str:
        return self._store.key(self._kind, record_id)

    async def get(self, record_id: str) -> M | None:
        raw = await self._store.redis.get(self.key(record_id))
        return None if raw is None else self._model.model_validate_json(raw)

    async def require(self, record_id: str) -> M:
        record = await self.get(record_id)
        if record is None:
            raise NotFoundError(self._kind, record_id)
        return record

    async def many(self, record_ids: Iterable[str]) -> list[M]:
        """The records with these ids, in the order given; ids with no record are skipped."""
        keys = [self.key(record_id) for record_id in record_ids]
        if not keys:
            return []
        raws = await self._store.redis.mget(keys)
        return [self._model.model_validate_json(raw) for raw in raws if raw is not None]

    async def ids(self) -> list[str]:
        return sorted(text(member) for member in await self._store.redis.smembers(self._index))

    async def all(self) -> list[M]:
        """Every record, ordered by id."""
        return await self.many(await self.ids())

    async def put(self, record_id: str, record: M) -> None:
        async with self._store.redis.pipeline(transaction=True) as pipe:
            self.stage(pipe, record_id, record)
            await pipe.execute()

    def stage(self, pipe: Pipeline, record_id: str, record: M) -> None:
        """Queue a write of the record on a transaction the caller executes."""
        pipe.set(self.key(record_id), record.model_dump_json())
        pipe.sadd(self._index, record_id)

    def stage_many(self, pipe: Pipeline, records: Mapping[str, M]) -> None:
        """`stage` for many records in two commands (seeding a large org queues thousands)."""
        if records:
            pipe.mset({self.key(i): record.model_dump_json() for i, record in records.items()})
            pipe.sadd(self._index, *records)

    async def add(self, record_id: str, record: M) -> bool:
        """Store a new record; False (and nothing written) when the id is taken."""
        if not await self._store.redis.set(self.key(record_id), record.model_dump_json(), nx=True):
            return False
        await self._store.redis.sadd(self._index, record_id)
        return True

    async def update(
        self,
        record_id: str,
        change: Callable[[M], M],
        *,
        also: Callable[[Pipeline, M, M], None] | None = None,
    ) -> M:
        """Apply `change` to the stored record atomically and return the result. `change` may
        run more than once (on a concurrent write), so it must not have side effects. `also`
        queues more writes on the same transaction from (before, after): the indexes a
        change moves, so that a record and its indexes never disagree."""
        key = self.key(record_id)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFoundError(self._kind, record_id)
                    before = self._model.model_validate_json(raw)
                    updated = change(before)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, updated.model_dump_json())
                    if also is not None:
                        also(pipe, before, updated)
                    await pipe.execute()
                    return updated
                except WatchError:
                    continue
