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
        return raw if raw in MODES else "autonomous"

    async def set_mode(self, queue: str, mode: Mode) -> None:
        await self._store.redis.hset(self._store.key("control", "modes"), queue, mode)

    async def modes(self) -> dict[str, str]:
        raw = await self._store.redis.hgetall(self._store.key("control", "modes"))
        return {str(k): str(v) for k, v in raw.items()}

    async def roster(self) -> list[str] | None:
        """The on-call roster set by /itdesk oncall, or None for "everyone with the role"."""
        key = self._store.key("control", "oncall")
        if not await self._store.redis.exists(key):
            return None
        return [str(x) for x in await self._store.redis.lrange(key, 0, -1)]

    async def set_roster(self, usernames: list[str]) -> None:
        key = self._store.key("control", "oncall")
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if usernames:
                pipe.rpush(key, *usernames)
            await pipe.execute()
