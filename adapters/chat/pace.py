"""Posting at a platform's pace: when the desk may next call a platform for one place (a
Slack channel, a Teams conversation, a whole workspace or tenant), kept in Redis so that
every desk process sharing it keeps the same pace.

Each place has a `Rate`: one call every `interval` seconds, and up to `burst` calls at once
after a quiet spell (the generic cell rate algorithm: Redis keeps each place's "theoretical
arrival time", the moment its bucket is empty again). `book` takes the next slot that is free
in every place a call counts against, in one atomic script, and says how long to wait for it;
the caller waits, then calls. A slot booked is the caller's, so waiters never race each other
for the same moment, across processes too. `hold` pushes a place's next slot back when the
platform said so (a 429's Retry-After).

Time comes from an injected clock (seconds, the same in every process: wall time), so that
tests can run a storm of waits in virtual time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.store import Store

# KEYS: one theoretical arrival time per place. ARGV: now, then interval and burst per key.
# The slot is the earliest moment every place allows; each place's arrival time moves past it.
_BOOK = """
local now = tonumber(ARGV[1])
local at = now
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local stored = redis.call('GET', key)
  local tat = now
  if stored then tat = math.max(tonumber(stored), now) end
  tats[i] = tat
  at = math.max(at, tat - interval * (burst - 1))
end
for i, key in ipairs(KEYS) do
  local after = math.max(tats[i], at) + tonumber(ARGV[2 * i])
  redis.call('SET', key, string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000))
end
return string.format('%.6f', at - now)
"""

# KEYS[1]: a place. ARGV: now, seconds to keep it quiet, its interval and burst. Afterwards
# its next slot is no earlier than now + seconds, and no burst is allowed right then.
_HOLD = """
local now, quiet = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = now + quiet + interval * (burst - 1)
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), tat) end
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1)
return 1
"""


@dataclass(frozen=True)
class Rate:
    """One call every `interval` seconds; up to `burst` at once after a quiet spell."""

    interval: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.burst < 1:
            raise ValueError("a rate needs a positive interval and a burst of at least 1")

    @classmethod
    def per_second(cls, calls: float, burst: int = 1) -> Rate:
        return cls(1.0 / calls, burst)


class Pace:
    """The next free slot of each place, in Redis under `store`'s namespace."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._book = store.redis.register_script(_BOOK)
        self._hold = store.redis.register_script(_HOLD)

    async def book(self, places: Sequence[tuple[str, Rate]]) -> float:
        """Take the next slot free in every one of `places` (a name and its rate); the
        seconds to wait until it (0: go now)."""
        if not places:
            return 0.0
        keys = [self._store.key("pace", name) for name, _ in places]
        args: list[float | int] = [self._clock()]
        for _, rate in places:
            args += [rate.interval, rate.burst]
        wait = await self._book(keys=keys, args=args)
        return max(0.0, float(wait))

    async def hold(self, place: str, rate: Rate, seconds: float) -> None:
        """Book nothing in `place` for `seconds` from now (what a 429's Retry-After asks)."""
        args = [self._clock(), max(0.0, seconds), rate.interval, rate.burst]
        await self._hold(keys=[self._store.key("pace", place)], args=args)


__all__ = ["Pace", "Rate"]
