"""The understanding's catalogue (people, groups, devices, software), as last read from the
ports: one JSON document in Redis and a version that changes with its content, so every desk
process reads the directory once per refresh, not once per start or per turn."""

from __future__ import annotations

import hashlib

from bot.models import Catalog
from bot.store import Store


class CatalogCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._body = store.key("catalog", "body")
        self._version = store.key("catalog", "version")

    async def version(self) -> str | None:
        raw = await self._store.redis.get(self._version)
        return None if raw is None else str(raw)

    async def get(self) -> tuple[str, Catalog] | None:
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.get(self._version)
            pipe.get(self._body)
            version, body = await pipe.execute()
        if version is None or body is None:
            return None
        return str(version), Catalog.model_validate_json(body)

    async def put(self, catalog: Catalog) -> str:
        body = catalog.model_dump_json()
        version = hashlib.sha256(body.encode()).hexdigest()[:16]
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._body, body)
            pipe.set(self._version, version)
            await pipe.execute()
        return version
