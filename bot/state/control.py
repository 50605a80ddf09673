"""What admins steer with /itdesk: pause, per-queue modes, the on-call roster."""

from __future__ import annotations

from typing import Literal

from bot.store import Store

Mode = Literal["autonomous", "shadow", "off"]
MODES: tuple[Mode, ...] = ("autonomous", "shadow", "off")


class DeskControl:
    """Desk-wide switches, in Redis so every desk process sees the same."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def paused(self) -> bool:
        return bool(await self._store.redis.exists(self._store.key("control", "paused")))

    async def set_paused(self, paused: bool, by: str) -> None:
        key = self._store.key("control", "paused")
        if paused:
            await self._store.redis.set(key, by)
        else:
            await self._store.redis.delete(key)

    async def mode(self, queue: str) -> Mode:
        raw = await self._store.redis.hget(self._store.key("control", "modes"), queue)
        return _mode(raw)

    async def switches(self, queue: str) -> tuple[bool, Mode]:
        """Whether the desk is paused and the queue's mode, read together (every policy
        question asks both)."""
        async with self._store.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._store.key("control", "paused"))
            pipe.hget(self._store.key("control", "modes"), queue)
            paused, raw = await pipe.execute()
        return bool(paused), _mode(raw)

    async def set_mode(self, queue: str, mode: Mode) -> None:
        await self._store.redis.hset(self._store.key("control", "modes"), queue, mode)

    async def modes(self) -> dict[str, str]:
        raw = await self._store.redis.hgetall(self._store.key("control", "modes"))
        return {str(k): str(v) for k, v in raw.items()}

    async def roster(self) -> list[str] | None:
        """The on-call roster set by /itdesk oncall, or None for "everyone with the role"."""
        key = self._store.key("control", "oncall")
        async with self._store.redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.lrange(key, 0, -1)
            exists, names = await pipe.execute()
        return [str(x) for x in names] if exists else None

    async def set_roster(self, usernames: list[str]) -> None:
        key = self._store.key("control", "oncall")
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if usernames:
                pipe.rpush(key, *usernames)
            await pipe.execute()


def _mode(raw: object) -> Mode:
    for mode in MODES:
        if raw == mode:
            return mode
    return "autonomous"
