"""How a chat adapter hands over what it received: to a `TurnSink`, before it tells the
platform the event was received.

`InboxSink` keeps the turn in the inbox (`bot.state.inbox`) for the workers
(`bot.pipeline`): if it cannot be kept, `accept` raises and the adapter must not acknowledge.
`BackgroundSink` works in a task of this process instead: nothing survives a crash, so it is
for tests and tools, not for serving a company."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

import structlog

from bot.models import Turn
from bot.outbound import Outbound
from bot.state.inbox import InboxUnavailable, TurnInbox
from bot.turns import TurnHandler, TurnInProgress

log = structlog.get_logger("itdesk.inbound")

__all__ = [
    "BackgroundSink", "InboxSink", "InboxUnavailable", "Processor", "TurnSink", "work_through",
]  # fmt: skip


class Processor(Protocol):
    """The adapter side of one source: do the work of a received payload (raise to have it
    tried again; `delivery` names the inbox entry it came as), or give up on it (tell the
    person a human will follow up)."""

    async def process(self, payload: dict[str, Any], delivery: str | None) -> None: ...

    async def give_up(self, payload: dict[str, Any]) -> None: ...


async def work_through(
    desk: TurnHandler, turn: Turn, delivery: str | None, outbound: Outbound
) -> None:
    """One turn an adapter took in: the desk's work, its effects on their way, and only then
    the turn marked done, so a failure in between leaves it to be handled again."""
    turn = turn.model_copy(update={"delivery": delivery})
    effects = await desk.attempt(turn)
    if effects is None:
        return  # handled before
    await outbound.deliver(effects)
    await desk.commit(turn)


class TurnSink(Protocol):
    async def accept(
        self, source: str, conversation: str, payload: dict[str, Any], processor: Processor
    ) -> None:
        """Take one received payload; raises `InboxUnavailable` when it cannot be kept."""
        ...


class InboxSink:
    """Received payloads kept in the inbox, for whichever worker holds their shard."""

    def __init__(self, inbox: TurnInbox) -> None:
        self.inbox = inbox

    async def accept(
        self, source: str, conversation: str, payload: dict[str, Any], processor: Processor
    ) -> None:
        await self.inbox.append(source, conversation, payload)


class BackgroundSink:
    """Received payloads worked on at once, in tasks of this process: tried once, and
    given up on (the person told) if that fails."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def accept(
        self, source: str, conversation: str, payload: dict[str, Any], processor: Processor
    ) -> None:
        self.spawn(self._work(processor, payload))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # a strong reference until it is done
        self._idle.clear()
        task.add_done_callback(self._finished)

    async def settled(self) -> None:
        """Wait until every piece of work taken so far is done (tests, shutdown)."""
        while self._tasks:
            await self._idle.wait()

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _work(self, processor: Processor, payload: dict[str, Any]) -> None:
        try:
            await processor.process(payload, None)
        except TurnInProgress:
            log.info("inbound.duplicate_under_way")  # the delivery under way answers
        except Exception:
            log.exception("inbound.work_failed")
            try:
                await processor.give_up(payload)
            except Exception:
                log.exception("inbound.give_up_failed")

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
