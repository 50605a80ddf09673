"""Calls to the Bot Connector at its pace: each waits its turn of the conversation it posts
into and of the bot's whole tenant (`adapters.chat.pace`, shared by every desk process), and
one the service refuses as too many is made again after Retry-After.

Microsoft's published limits ("Rate limiting for bots", learn.microsoft.com/microsoftteams/
platform/bots/how-to/rate-limit): per bot per conversation, "Send to conversation" and
"Create conversation" allow 7 operations in 1 s, 8 in 2 s, 60 in 30 s and 1800 in 3600 s;
"the global limit per app per tenant is 50 Requests Per Second", for every kind of request.
A 429 is to be retried after its Retry-After, or without one "with an exponential backoff
with random jitter and a bounded number of retries"; 412, 502, 503 and 504 are retried too.
The desk retries 412, 429 and 503 (the service took nothing), not 502 and 504 on a post
(it may have posted: retrying could show a message twice).

One rate cannot keep every window of that table: a burst of 6 then one a second keeps the
1, 2 and 30 second windows, and a slower rate with a larger burst (60, then one every 3600 /
1740 s) keeps the hour; both count, so a short storm goes at about one a second and a long
one at the hourly rate. The tenant's 50 a second is 45 a second after a burst of 5."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from adapters.chat.pace import Pace, Rate
from bot.store import Store

log = structlog.get_logger("itdesk.teams")

T = TypeVar("T")
BUSY = frozenset({412, 429, 503})  # refused as a whole: safe to make again
CONVERSATION_PACE = Rate(1.0, burst=6)  # 7 in 1 s, 8 in 2 s, 60 in 30 s
CONVERSATION_HOUR = Rate(3600 / 1740, burst=60)  # 1800 in 3600 s
TENANT_PACE = Rate.per_second(45, burst=5)  # 50 requests a second per app per tenant


class ConnectorBusy(Exception):
    """The Bot Connector refused a call as too many (429) or for now (412, 503); try again
    after `retry_after` seconds (None: it did not say)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"the Bot Connector answered {status}")
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class TeamsPace:
    """How fast the desk calls the Bot Connector, per conversation and per tenant."""

    conversation: Rate = CONVERSATION_PACE
    conversation_hour: Rate = CONVERSATION_HOUR
    tenant: Rate = TENANT_PACE
    busy_retries: int = 5  # a call refused this many times more is given up on
    backoff: float = 1.0  # seconds, the first pause without a Retry-After; doubled, jittered
    longest_backoff: float = 30.0


class ConnectorTurns:
    """Makes Bot Connector calls in their turn: `call(work, conversation=..., tenant=...)`."""

    def __init__(
        self,
        store: Store,
        rates: TeamsPace | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pace = Pace(store, clock=clock)
        self._rates = rates or TeamsPace()
        self._sleep = sleep

    async def call(
        self,
        work: Callable[[], Awaitable[T]],
        *,
        tenant: str | None,
        conversation: str | None = None,
    ) -> T:
        """Make `work` (one Bot Connector request) in the next turn of `conversation` (when
        it posts into one) and of the bot's `tenant`; again after the service said to wait."""
        rates = self._rates
        places: Sequence[tuple[str, Rate]] = [(f"teams:tenant:{tenant or '-'}", rates.tenant)]
        if conversation is not None:
            here = f"teams:conversation:{conversation}"
            places = [
                (here, rates.conversation),
                (here + ":hour", rates.conversation_hour),
                *places,
            ]
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(ConnectorBusy),
            stop=stop_after_attempt(rates.busy_retries + 1),
            wait=self._backoff(),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                wait = await self._pace.book(places)
                if wait > 0:
                    await self._sleep(wait)
                try:
                    return await work()
                except ConnectorBusy as busy:
                    log.info("teams.held_back", status=busy.status, seconds=busy.retry_after)
                    if busy.retry_after is not None:  # the next turn comes after it
                        await self._pace.hold(places[0][0], places[0][1], busy.retry_after)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises

    def _backoff(self) -> Callable[[RetryCallState], float]:
        jittered = wait_random_exponential(
            multiplier=self._rates.backoff, max=self._rates.longest_backoff
        )

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, ConnectorBusy) and failure.retry_after is not None:
                return 0.0  # the pace holds the conversation back; its next turn waits
            return float(jittered(state))

        return wait


__all__ = ["BUSY", "ConnectorBusy", "ConnectorTurns", "TeamsPace"]
