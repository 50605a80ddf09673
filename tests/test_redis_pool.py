"""The desk's Redis client: a burst of commands beyond the pool's size waits for a
connection instead of failing."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.settings import load_settings
from bot.store import POOL_SIZE, connect

POOL = 4


async def _burst(client: Redis, pusher: Redis, n: int) -> list[str]:
    """`n` commands that each hold their connection until another client releases them
    (BLPOP on its own list), all started before any is released."""
    waiting = [asyncio.create_task(client.blpop([f"test:burst:{i}"], timeout=0)) for i in range(n)]
    for i in range(n):  # the first push's round trip lets every task ask for a connection
        await pusher.rpush(f"test:burst:{i}", str(i))
    return [value for _, value in await asyncio.gather(*waiting)]


async def test_three_times_the_pool_of_concurrent_commands_all_complete(
    redis: Redis, redis_url: str
) -> None:
    before = len(await redis.client_list())
    client = connect(redis_url, pool_size=POOL, pool_timeout=30)
    try:
        done = await _burst(client, redis, 3 * POOL)
        opened = len(await redis.client_list()) - before
    finally:
        await client.aclose()
    assert done == [str(i) for i in range(3 * POOL)]
    assert 0 < opened <= POOL


async def test_a_plain_pool_of_the_same_size_fails_the_burst(redis: Redis, redis_url: str) -> None:
    """What the blocking pool is for: the default pool raises once it is full."""
    client = Redis(connection_pool=ConnectionPool.from_url(redis_url, max_connections=POOL))
    try:
        with pytest.raises(RedisConnectionError, match="Too many connections"):
            await _burst(client, redis, 3 * POOL)
    finally:
        await client.connection_pool.disconnect()
        await client.aclose()


def test_the_pool_is_configurable() -> None:
    settings = load_settings(redis_pool_size=200, redis_pool_timeout=2.5)
    assert (settings.redis_pool_size, settings.redis_pool_timeout) == (200, 2.5)
    assert load_settings().redis_pool_size == POOL_SIZE
