"""The reset page's forms: a nonce for each form shown, good for the one submission of that
form, and how many tries a token or a client address has made lately (counted in windows of
the desk's clock, so a test can move past one)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.clock import Clock
from bot.store import Store

WINDOW = timedelta(minutes=15)


class ResetForms:
    """Nonces and tries, kept for `window`."""

    def __init__(self, store: Store, clock: Clock, *, window: timedelta = WINDOW) -> None:
        self.window = window
        self._store = store
        self._clock = clock
        self._ms = int(window.total_seconds() * 1000)

    async def nonce(self, digest: str) -> str:
        """A nonce for a form shown for the token with this digest."""
        nonce = secrets.token_urlsafe(16)
        await self._store.redis.set(self._store.key("reset", "form", digest, nonce), "1",
                                    px=self._ms)  # fmt: skip
        return nonce

    async def use(self, digest: str, nonce: str) -> bool:
        """Whether `nonce` was shown with this token's form and not used since (now it is)."""
        if not nonce or len(nonce) > 64:
            return False
        return bool(await self._store.redis.delete(self._store.key("reset", "form", digest, nonce)))

    async def tried(self, who: str, *, limit: int) -> bool:
        """Count one try by `who` (a token's digest, a client address); False once it has
        made more than `limit` in the current window."""
        window = int(self._clock.now().timestamp() // self.window.total_seconds())
        key = self._store.key("reset", "tries", who, str(window))
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.pexpire(key, self._ms * 2)
            count, _ = await pipe.execute()
        return int(count) <= limit
