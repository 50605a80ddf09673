"""Access to Redis under one namespace. Every key the desk writes goes through `Store.key`, so
one Redis can hold several isolated worlds (scenarios, tenants) side by side."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

POOL_SIZE = 50  # connections per desk process; a turn holds one only while a command runs
POOL_TIMEOUT = 10.0  # seconds a command waits for a free connection before it fails


def connect(url: str, *, pool_size: int = POOL_SIZE, pool_timeout: float = POOL_TIMEOUT) -> Redis:
    """A client over at most `pool_size` connections. A burst of more concurrent commands
    waits for a connection to come free rather than failing at once; only a wait longer than
    `pool_timeout` raises (a `ConnectionError`: Redis is too slow or the pool too small for
    the load, an operator's matter)."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=pool_size, timeout=pool_timeout, decode_responses=True
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


class Store:
    """A Redis client plus the namespace its keys live under."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    def key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def child(self, name: str) -> Store:
        """A store for a nested namespace (one scenario's world inside a suite run)."""
        return Store(self.redis, f"{self.namespace}:{name}")

    async def get_json(self, *parts: str) -> Any:
        raw = await self.redis.get(self.key(*parts))
        return None if raw is None else json.loads(raw)

    async def set_json(self, value: Any, *parts: str) -> None:
        await self.redis.set(self.key(*parts), json.dumps(value, separators=(",", ":")))

    async def drop(self) -> int:
        """Delete every key of this namespace (used to dispose of a scenario's world)."""
        deleted = 0
        async for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=500):
            deleted += await self.redis.delete(key)
        return deleted
