"""Platform deliveries the desk has handled: a retried delivery (Slack's, Teams', a double
submit) carries the same event id and is dropped once the first one's work is committed.

A delivery is claimed when its work starts (`begin`) and marked done when its work is
committed (`commit`), so a turn that failed half-way (`abandon`, or a crash: the claim lapses)
is handled when it comes again, and a duplicate after success is dropped."""

from __future__ import annotations

from typing import Literal

from bot.store import Store

Began = Literal["new", "done", "busy"]
DONE = "done"

# Claim the delivery for `claim`, or say what holds it. A claim by the same holder (the same
# inbox entry delivered again after its worker died) is taken over.
_BEGIN = """
local held = redis.call('GET', KEYS[1])
if not held or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'new'
end
if held == 'done' then return 'done' end
return 'busy'
"""
_ABANDON = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Deduplicator:
    """Remembers handled platform event ids for a day."""

    def __init__(self, store: Store, *, ttl_s: int = 86_400, claim_ms: int = 120_000) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._claim_ms = claim_ms

    async def begin(self, platform: str, event_id: str, claim: str) -> Began:
        """ "new": the work is `claim`'s to do now; "done": it was committed before; "busy":
        another delivery of it is under way."""
        key = self._store.key("seen", platform, event_id)
        began = await self._store.redis.eval(_BEGIN, 1, key, claim, str(self._claim_ms))
        return "new" if began == "new" else "done" if began == DONE else "busy"

    async def commit(self, platform: str, event_id: str) -> None:
        await self._store.redis.set(
            self._store.key("seen", platform, event_id), DONE, ex=self._ttl_s
        )

    async def abandon(self, platform: str, event_id: str, claim: str) -> None:
        """Let the delivery be handled again (its work failed before it was committed)."""
        key = self._store.key("seen", platform, event_id)
        await self._store.redis.eval(_ABANDON, 1, key, claim)
