"""Workers that take turns out of the inbox (`bot.state.inbox`) and hand them to the adapter
that appended them, one conversation at a time, in order.

A worker leases its share of the inbox's shards (the shards divided by the live workers), so
two workers never read one shard at once and a conversation's turns are handled in the order
they came. One reader per worker waits on all its shards; each shard's entries are handled
one after another by that shard's own task. A shard taken over from a worker that died starts
with what that worker had read and not finished (XAUTOCLAIM). An entry whose handling fails
is tried again with growing pauses; after `max_attempts` deliveries (counted in Redis, so a
crash does not reset them) it goes to the dead-letter stream, the person is told a human will
follow up, and on-call is alerted."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential_jitter

from bot.inbound import Processor
from bot.observability import Metrics
from bot.state.inbox import Entry, TurnInbox

log = structlog.get_logger("itdesk.pipeline")


Alert = Callable[[Entry, str], Awaitable[None]]  # tell on-call a turn was dead-lettered


@dataclass(frozen=True)
class WorkerConfig:
    max_attempts: int = 5
    lease_ms: int = 15_000  # a dead worker's shards move on after this
    balance_every: float = 0.5  # seconds between lease renewals and looks for free shards
    block_ms: int = 1_000  # how long the reader waits for new entries
    batch: int = 20  # entries read per shard at a time
    first_pause: float = 0.2  # seconds before the second attempt; doubling, jittered
    longest_pause: float = 5.0


class TurnWorker:
    def __init__(
        self,
        inbox: TurnInbox,
        processors: Mapping[str, Processor],
        *,
        metrics: Metrics,
        alert: Alert | None = None,
        config: WorkerConfig | None = None,
        name: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inbox = inbox
        self.name = name or f"worker-{secrets.token_hex(4)}"
        self._processors = processors
        self._metrics = metrics
        self._alert = alert
        self._config = config or WorkerConfig()
        self._sleep = sleep
        self._queues: dict[int, asyncio.Queue[Entry | None]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._leaving: set[int] = set()  # finishing the entry at hand, then letting go

    @property
    def shards(self) -> list[int]:
        """The shards this worker holds now (and is not letting go of)."""
        return sorted(set(self._tasks) - self._leaving)

    async def run(self, stop: asyncio.Event, *, linger: float = 30.0) -> None:
        """Work until `stop` is set, then let go of every shard: the entries at hand are
        finished (for up to `linger` seconds), the rest left for the next holder."""
        await self.inbox.prepare()
        reader = asyncio.create_task(self._read(stop))
        try:
            while not stop.is_set():
                await self.balance()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._balance_every())
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            for shard in list(self._tasks):
                self._let_go(shard)
            if self._tasks:
                await asyncio.wait(list(self._tasks.values()), timeout=linger)
            for task in list(self._tasks.values()):
                task.cancel()
            await self.inbox.leave(self.name)

    def _balance_every(self) -> float:
        return min(self._config.balance_every, self._config.lease_ms / 3000)

    async def balance(self) -> None:
        """Renew the leases held, let go of those beyond this worker's share, and take free
        shards up to it."""
        c = self._config
        live = await self.inbox.beat(self.name, c.lease_ms)
        share = math.ceil(self.inbox.shards / max(live, 1))
        for shard, task in list(self._tasks.items()):
            if not await self.inbox.lease(shard, self.name, c.lease_ms):
                log.warning("inbox.lease_lost", worker=self.name, shard=shard)
                task.cancel()  # another worker has it now: its entries are theirs
        for shard in self.shards[share:]:
            self._let_go(shard)
        start = int(self.name.encode().hex(), 16) % self.inbox.shards  # workers start apart
        for step in range(self.inbox.shards):
            if len(self.shards) >= share:
                break
            shard = (start + step) % self.inbox.shards
            if shard not in self._tasks and await self.inbox.lease(shard, self.name, c.lease_ms):
                self._queues[shard] = asyncio.Queue()
                self._tasks[shard] = asyncio.create_task(self._shard(shard))
                self._tasks[shard].add_done_callback(self._ended)

    def _let_go(self, shard: int) -> None:
        """Stop taking the shard's entries; its task finishes the one at hand and ends."""
        if shard in self._tasks and shard not in self._leaving:
            self._leaving.add(shard)
            self._queues[shard].put_nowait(None)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox.shard_failed", worker=self.name, error=repr(task.exception()))

    async def _read(self, stop: asyncio.Event) -> None:
        """Wait for new entries on every held shard whose queue has room."""
        c = self._config
        while not stop.is_set():
            ready = [s for s in self.shards if self._queues[s].qsize() < c.batch]
            if not ready:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=c.block_ms / 1000)
                continue
            try:
                entries = await self.inbox.read_many(ready, self.name, count=c.batch,
                                                     block_ms=c.block_ms)  # fmt: skip
            except Exception:
                log.exception("inbox.read_failed", worker=self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=c.block_ms / 1000)
                continue
            for entry in entries:
                queue = self._queues.get(entry.shard)
                if queue is not None and entry.shard not in self._leaving:
                    queue.put_nowait(entry)  # else its next holder reclaims it

    async def _shard(self, shard: int) -> None:
        """Handle a held shard's entries in order: first what was left pending (by a worker
        that died, or by this one), then what the reader brings; until let go of."""
        try:
            await self.inbox.reclaim(shard, self.name)
            earlier: set[str] = set()  # the reader may have queued these too
            while shard not in self._leaving and (
                left := await self.inbox.pending(shard, self.name, count=self._config.batch)
            ):
                for entry in left:
                    if shard in self._leaving:
                        break
                    await self.handle(entry)
                    earlier.add(entry.id)
            queue = self._queues[shard]
            while shard not in self._leaving:
                taken = await queue.get()
                if taken is not None and taken.id not in earlier:
                    await self.handle(taken)
        finally:
            self._tasks.pop(shard, None)
            self._queues.pop(shard, None)
            self._leaving.discard(shard)
            with contextlib.suppress(Exception):  # else the lease lapses on its own
                await self.inbox.release(shard, self.name)

    async def handle(self, entry: Entry) -> None:
        """One entry, tried until it works or has had its deliveries; then acknowledged or
        dead-lettered. Cancelled mid-way (the shard was let go), it stays pending."""
        c = self._config
        processor = self._processors.get(entry.source)
        if processor is None:
            await self._bury(entry, f"no processor for source {entry.source!r}", None)
            return
        attempts = stop_after_attempt(c.max_attempts)
        pauses = wait_exponential_jitter(multiplier=c.first_pause, max=c.longest_pause,
                                         jitter=c.first_pause)  # fmt: skip
        try:
            async for attempt in AsyncRetrying(stop=attempts, wait=pauses, sleep=self._sleep):
                with attempt:
                    if await self.inbox.attempt(entry) > c.max_attempts:
                        break  # delivered enough times already (before a crash, too)
                    await processor.process(entry.payload, entry.delivery)
                    await self.inbox.done(entry)
                    self._metrics.inbox.labels(source=entry.source, outcome="done").inc()
                    return
        except RetryError as exc:
            error = exc.last_attempt.exception()
            log.warning("inbox.gave_up", entry=entry.delivery, source=entry.source,
                        error=str(error))  # fmt: skip
            await self._bury(entry, repr(error), processor)
            return
        await self._bury(entry, "delivered too many times", processor)

    async def _bury(self, entry: Entry, error: str, processor: Processor | None) -> None:
        await self.inbox.bury(entry, error)
        self._metrics.inbox.labels(source=entry.source, outcome="dead").inc()
        for tell in (
            processor.give_up(entry.payload) if processor else None,
            self._alert(entry, error) if self._alert else None,
        ):
            if tell is None:
                continue
            try:
                await tell
            except Exception:
                log.exception("inbox.tell_failed", entry=entry.id)
