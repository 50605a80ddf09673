"""Conversations: one worker per conversation at a time, and what the desk remembers about a
conversation between turns (a person's first unclear message).

The conversation lock is a Redis key holding a fencing token (a counter that only grows).
Writes made under the lock carry the token and are refused once another worker has taken the
lock over (after an expiry), so a stalled worker cannot overwrite newer state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryError, retry_if_result, stop_after_delay, wait_exponential

from bot.reads import remembered_reads
from bot.store import Store


class LockTimeout(Exception):
    """The conversation stayed busy longer than the caller would wait (the desk retries)."""


@dataclass(frozen=True)
class Fence:
    """Proof of holding a conversation lock: the lock key and its fencing token."""

    key: str
    token: int

    def pair(self) -> tuple[str, int]:
        return (self.key, self.token)


# A fresh fencing token and a first try at the lock, in one round trip.
_TAKE = """
local token = redis.call('INCR', KEYS[2])
local taken = redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[1])
return {token, taken and 1 or 0}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ConversationLocks:
    def __init__(self, store: Store, *, ttl_ms: int = 30_000) -> None:
        self._store = store
        self._ttl_ms = ttl_ms

    @asynccontextmanager
    async def hold(self, conversation: str, *, wait: float = 30.0) -> AsyncIterator[Fence]:
        redis = self._store.redis
        key = self._store.key("lock", "conversation", conversation)
        fence_key = self._store.key("lock", "fence")
        token, first = (int(x) for x in await redis.eval(_TAKE, 2, key, fence_key, self._ttl_ms))

        async def take() -> bool:
            return bool(await redis.set(key, str(token), nx=True, px=self._ttl_ms))

        # Short pauses at first, so a waiter gets in soon after a quick turn lets go; never
        # longer than 0.1 s, so it does not sleep long past a slow one.
        retrying = AsyncRetrying(
            retry=retry_if_result(lambda taken: not taken),
            wait=wait_exponential(multiplier=0.005, max=0.1),
            stop=stop_after_delay(wait),
        )
        try:
            if not first:
                await retrying(take)
        except RetryError:
            raise LockTimeout(f"conversation {conversation} busy for {wait:.0f}s") from None
        try:
            # nothing else changes the conversation while it is held, so what the turn
            # looks up meanwhile is asked for once (`bot.reads`)
            with remembered_reads():
                yield Fence(key, token)
        finally:
            await redis.eval(_RELEASE, 1, key, str(token))


class UnclearMessages:
    """Whether a person's unclear message is their first within the hour: the first gets the
    menu, a second goes to a human instead of another menu."""

    def __init__(self, store: Store, *, window_s: int = 3600) -> None:
        self._store = store
        self._window_s = window_s

    async def first(self, username: str) -> bool:
        key = self._store.key("unclear", username)
        return bool(await self._store.redis.set(key, "1", nx=True, ex=self._window_s))
