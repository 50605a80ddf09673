"""Virtual time for code that reads an injected clock (seconds) and waits through an injected
`sleep`: every wait is recorded and none takes real time.

Jumping (the default), a sleep moves the clock to its end at once: for runs where only the
waits and their order matter. Stepped (`jumping=False`), sleepers stay asleep until the test
moves the clock with `advance`, and `sleeping(n)` waits until n of them are: for tests that
look at what has happened by each moment."""

from __future__ import annotations

import asyncio

START = 1_000_000.0  # a round moment, so that sums of whole seconds stay exact
EPSILON = 1e-6  # the pace keeps microseconds: a sleeper due within one is due


class VirtualTime:
    def __init__(self, start: float = START, *, jumping: bool = True) -> None:
        self.now = start
        self.jumping = jumping
        self.waits: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._changed = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        wake = self.now + seconds
        if self.jumping:
            self.now = max(self.now, wake)
            await asyncio.sleep(0)  # let others run, as a real pause would
            return
        sleeper = (wake, asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        async with self._changed:
            self._changed.notify_all()
        try:
            await sleeper[1]
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    async def sleeping(self, count: int) -> None:
        """Wait until `count` sleepers are asleep."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._sleepers) >= count)

    def asleep(self) -> int:
        return len(self._sleepers)

    def advance(self, seconds: float) -> None:
        """Move the clock on and wake every sleeper whose time has come."""
        self.now += seconds
        for sleeper in [s for s in self._sleepers if s[0] <= self.now + EPSILON]:
            self._sleepers.remove(sleeper)
            if not sleeper[1].done():
                sleeper[1].set_result(None)
