"""The desk's effects out to Slack, never lost, never doubled, and at Slack's pace.

Every effect the adapter can reach goes into an outbox in Redis first, in a lane for the
place it goes: a channel (a person's DM, the channel a command came from, the on-call
channel with its case threads) or, until their DM is opened, a person. Then a courier task of
this process posts the lane's effects from its head, in order, holding the lane's Redis lock
so that one desk process at a time posts from it, and removes an effect only once Slack has
taken it. Each call waits its turn of the channel's pace, which every desk process shares in
Redis (`slack_posting`, `adapters.chat.pace`); while one lane waits, the others go on. A 429
holds the channel back for its Retry-After and the call is made again. A lane whose process
died holding it is taken over once its lock expires: a flush (each start-up flushes) that
finds a lane held by another process looks again later, until it is empty.

When Slack is unavailable (after slack_sdk's own retries of a dropped connection), the
effect stays at the head of its lane and the whole outbox is flushed again after pauses that
double up to MAX_RETRY_DELAY, until it is empty; a message Slack refuses for good is kept
aside (a dead letter) so it cannot block the others. A desk message is marked posted (its
channel and ts) as soon as Slack answers, before it leaves the outbox, so one that was
posted just before a crash is not posted again by the next courier.

Where an effect goes:
- `Address(conversation="slack:<channel>")`: that channel (a person's DM, or the channel a
  slash command was typed in); with `thread`, the case's thread in it;
- `Address(channel=<the desk's on-call channel>, thread=<case>)`: the configured Slack
  channel, in the case's thread; its first message is the thread's root;
- `Address(person=<username>)`: the person's DM with the desk (`conversations.open`).
Addresses of other platforms (the web chat's `dm:`/`channel:` conversations) are not ours.

A `Send` posts, an `Update` edits the posted message in place (`chat.update`), and an
`Ephemeral` is shown to its one reader (`chat.postEphemeral`). When a channel cannot be
reached (the desk is not in the channel a command came from), the person's DM is used."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import structlog
from pydantic import ValidationError
from redis.asyncio.lock import Lock
from redis.exceptions import LockError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from adapters.chat.pace import Pace
from adapters.chat.slack_people import SlackPeople
from adapters.chat.slack_posting import PREFIX, SlackPace, SlackPoster, error_of
from adapters.chat.slack_state import SlackState
from bot.models import Address, Effect

log = structlog.get_logger("itdesk.slack")

LOCK_SECONDS = 120.0  # a lane's lock outlives a dead courier by this much at most
MAX_RETRY_DELAY = 300.0
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackUnavailable(Exception):
    """Slack could not take a call even after the retries (or a lane is another process's
    for now): try again later."""


class Drained(enum.Enum):
    """How a lane's courier left it."""

    DONE = "done"  # nothing left
    BUSY = "busy"  # another courier holds the lane and will see the rest (or its lock expires)
    UNAVAILABLE = "unavailable"  # Slack is down: the head stays, the outbox is retried later


def transient(exc: BaseException) -> bool:
    """Whether a failed call may succeed if tried again later."""
    if isinstance(exc, SlackApiError):
        return exc.response.status_code in (429, 500, 502, 503, 504) or error_of(exc) in TRANSIENT
    return isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError)


def _log_flush_error(retry_state: RetryCallState) -> None:
    failure = retry_state.outcome.exception() if retry_state.outcome else None
    # SlackUnavailable was logged where the call failed; anything else (Redis) was not.
    if failure is not None and not isinstance(failure, SlackUnavailable):
        log.error("slack.flush_failed", exc_info=failure)


class _LaneLease:
    """A lane's lock while its courier waits for a turn: kept for as long as the wait."""

    def __init__(self, lock: Lock, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._lock = lock
        self._sleep = sleep

    async def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        await self._lock.extend(seconds + LOCK_SECONDS, replace_ttl=True)
        await self._sleep(seconds)


class SlackDelivery:
    """The outbound side of the Slack adapter (the desk's `Outbound` protocol).

    `client` should answer a 429 at once (no slack_sdk rate-limit retries): the courier waits
    for Retry-After itself, in the pace every process shares. `sleep` and `clock` (seconds)
    are injected so that tests run the waits in virtual time."""

    def __init__(
        self,
        client: AsyncWebClient,
        state: SlackState,
        people: SlackPeople,
        *,
        oncall_alias: str,
        oncall_channel: str | None,
        inline_max: int,
        retry_delay: float,
        pace: SlackPace | None = None,
        rate_limit_retries: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._people = people
        self._oncall_alias = oncall_alias
        self._oncall_channel = oncall_channel
        self._retry_delay = retry_delay
        self._sleep = sleep
        self._poster = SlackPoster(
            client,
            state,
            people,
            Pace(state.store, clock=clock),
            rates=pace or SlackPace(),
            oncall_channel=oncall_channel,
            inline_max=inline_max,
            rate_limit_retries=rate_limit_retries,
        )
        self._couriers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # lanes queued to since their courier last looked
        self._idle = asyncio.Event()
        self._idle.set()
        self._retry: asyncio.Task[None] | None = None
        self._retry_again = False  # a courier found Slack unavailable while a retry ran
        self._warned_oncall = False

    # --- the outbox ---------------------------------------------------------------------
    def reaches(self, to: Address) -> bool:
        """Whether an address is one this adapter delivers to (see the module docstring)."""
        if to.conversation is not None:
            return to.conversation.startswith(PREFIX)
        if to.channel is not None:
            if to.channel == self._oncall_alias and self._oncall_channel is None:
                if not self._warned_oncall:
                    log.warning("slack.no_oncall_channel", hint="set ITDESK_SLACK_ONCALL_CHANNEL")
                    self._warned_oncall = True
                return False
            return to.channel == self._oncall_alias
        return to.person is not None

    def lane(self, to: Address) -> str:
        """The lane of an address this adapter reaches: its channel, or "@<person>"."""
        if to.conversation is not None:
            return to.conversation.removeprefix(PREFIX)
        if to.channel is not None and self._oncall_channel is not None:
            return self._oncall_channel
        return f"@{to.person}"

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Queue the effects this adapter can reach, in their lanes, and have them posted.
        Returns once they are kept in the outbox; they are posted in the background (see
        `settled`)."""
        mine = [(self.lane(e.to), e) for e in effects if self.reaches(e.to)]
        if mine:
            for lane in await self._state.enqueue(mine):
                self._dispatch(lane)

    async def flush(self) -> bool:
        """Post what every lane of the outbox holds, now. True when it is empty afterwards
        (or this process's couriers are posting what is left); False when Slack is
        unavailable or another process holds a lane, and a retry has been scheduled (a lane
        whose process died is taken over once its lock expires)."""
        if await self._flush_once():
            return True
        self._schedule_retry()
        return False

    async def settled(self) -> None:
        """Wait until this process's couriers are done (tests, shutdown): what was queued is
        posted, unless Slack is unavailable (then a retry is scheduled, see `retried`)."""
        while self._couriers:
            await self._idle.wait()

    async def retried(self) -> None:
        """Wait until the couriers are done and the retry under way, if any, has emptied the
        outbox (tests)."""
        await self.settled()
        if self._retry is not None:
            await self._retry

    async def close(self) -> None:
        """Stop posting and retrying: what is queued stays queued for the next start."""
        tasks = [*self._couriers.values(), *([self._retry] if self._retry else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- couriers -----------------------------------------------------------------------
    def _dispatch(self, lane: str) -> None:
        self._again.add(lane)
        if lane not in self._couriers:
            self._idle.clear()
            self._couriers[lane] = asyncio.create_task(self._courier(lane))

    async def _courier(self, lane: str) -> None:
        try:
            while lane in self._again:
                self._again.discard(lane)
                outcome = await self._drain(lane)
                if outcome is Drained.UNAVAILABLE:
                    self._schedule_retry()
                    break
                if outcome is Drained.BUSY:
                    break  # its holder sees what was queued; a flush takes over if it died
        except Exception:
            log.exception("slack.courier_failed", lane=lane)
            self._schedule_retry()
        finally:
            del self._couriers[lane]
            if not self._couriers:
                self._idle.set()

    async def _flush_once(self) -> bool:
        """Drain every lane; False when one is left: Slack is unavailable, or another process
        holds a lane (it may have died holding it: look again after its lock expires)."""
        lanes = await self._state.lanes()
        outcomes = await asyncio.gather(*(self._drain(lane) for lane in lanes))
        return all(
            outcome is Drained.DONE or (outcome is Drained.BUSY and lane in self._couriers)
            for lane, outcome in zip(lanes, outcomes, strict=True)
        )

    async def _drain(self, lane: str) -> Drained:
        """Post a lane's effects from its head until it is empty."""
        while True:
            lock = self._state.flush_lock(lane, LOCK_SECONDS)
            if not await lock.acquire():
                return Drained.BUSY
            try:
                outcome = await self._post_all(lane, lock)
            finally:
                with contextlib.suppress(LockError):
                    await lock.release()
            # something may have been queued after our last look and before the release,
            # by a process whose courier found the lock taken
            if outcome is Drained.UNAVAILABLE or await self._state.pending(lane) == 0:
                return outcome

    async def _post_all(self, lane: str, lock: Lock) -> Drained:
        lease = _LaneLease(lock, self._sleep)
        while (head := await self._state.head_raw(lane)) is not None:
            try:
                await self._poster.post(self._state.parse(head), lease)
            except ValidationError as exc:
                await self._state.dead_letter(lane, head, f"unreadable effect: {exc}")
                continue
            except LockError:
                raise  # the lane outlived its lock: leave it to whoever holds it now
            except Exception as exc:
                if transient(exc):
                    log.warning("slack.unavailable", error=str(exc)[:300], queued=True)
                    return Drained.UNAVAILABLE
                log.error("slack.refused", error=str(exc)[:300], effect=head[:300])
                await self._state.dead_letter(lane, head, str(exc)[:1000])
                continue
            await self._state.done(lane, head)
            await lock.reacquire()
        return Drained.DONE

    # --- after an outage ----------------------------------------------------------------
    def _schedule_retry(self) -> None:
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._flush_later())
        else:
            self._retry_again = True  # its last flush may have found that lane busy

    async def _flush_later(self) -> None:
        """Flush until the outbox is empty, pausing `retry_delay` before the first try and
        twice as long before each next one, up to MAX_RETRY_DELAY."""
        self._retry_again = True
        while self._retry_again:
            self._retry_again = False
            retrying = AsyncRetrying(
                wait=wait_exponential(multiplier=self._retry_delay, max=MAX_RETRY_DELAY),
                before_sleep=_log_flush_error,
                sleep=self._sleep,
            )
            async for attempt in retrying:
                with attempt:
                    # The first try is the flush that found Slack unavailable (and asked).
                    if attempt.retry_state.attempt_number == 1 or not await self._flush_once():
                        raise SlackUnavailable("the outbox is not empty yet")
