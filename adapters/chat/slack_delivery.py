"""The desk's effects out to Slack, never lost and never doubled.

Every effect the adapter can reach goes into an outbox in Redis first, then one desk process
at a time (a Redis lock) posts from its head, in order, and removes an effect only once Slack
has taken it. Each Web API call is retried by slack_sdk itself: a 429 waits for Retry-After,
a dropped connection is retried with backoff. When Slack is still unavailable after that, the
effect stays at the head of the outbox and the flush is tried again, after pauses that double
up to MAX_RETRY_DELAY, until the outbox is empty; a message Slack refuses for good is kept
aside (a dead letter) so it cannot block the others. A desk message id that was already
posted is never posted again (a redelivered effect, a retried flush).

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError
from redis.asyncio.lock import Lock
from redis.exceptions import LockError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from adapters.chat.slack_blocks import Rendered, render, text_only, uses_modal
from adapters.chat.slack_people import SlackPeople
from adapters.chat.slack_state import Option, Posted, SlackState
from bot.models import Address, Effect, Ephemeral, Reply, Update

log = structlog.get_logger("itdesk.slack")

PREFIX = "slack:"  # Turn.conversation_id of a Slack conversation: "slack:<channel id>"
LOCK_SECONDS = 120.0
MAX_RETRY_DELAY = 300.0
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
UNREACHABLE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "user_not_in_channel"}
)
REFUSED_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long"})
GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class SlackUnavailable(Exception):
    """Slack could not take a call even after slack_sdk's retries: try again later."""


def _log_flush_error(retry_state: RetryCallState) -> None:
    failure = retry_state.outcome.exception() if retry_state.outcome else None
    # SlackUnavailable was logged where the call failed; anything else (Redis) was not.
    if failure is not None and not isinstance(failure, SlackUnavailable):
        log.error("slack.flush_failed", exc_info=failure)


class Unreachable(Exception):
    """The channel cannot be posted to by the desk (not a member, archived, gone)."""


@dataclass(frozen=True)
class Place:
    """Where in Slack a message goes. `starts_thread` names the case whose thread this message
    opens (its first message in the on-call channel)."""

    channel: str
    thread_ts: str | None = None
    starts_thread: str | None = None


def error_of(exc: SlackApiError) -> str:
    """Slack's error code of a failed call ("ratelimited", "channel_not_found", ...)."""
    return str(exc.response.get("error") or "")


def transient(exc: BaseException) -> bool:
    """Whether a failed call may succeed if tried again later."""
    if isinstance(exc, SlackApiError):
        return exc.response.status_code in (429, 500, 502, 503, 504) or error_of(exc) in TRANSIENT
    return isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError)


class SlackDelivery:
    """The outbound side of the Slack adapter (the desk's `Outbound` protocol)."""

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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._state = state
        self._people = people
        self._oncall_alias = oncall_alias
        self._oncall_channel = oncall_channel
        self._inline_max = inline_max
        self._retry_delay = retry_delay
        self._sleep = sleep
        self._retry: asyncio.Task[None] | None = None
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

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Queue the effects this adapter can reach and post them, in order."""
        mine = [e for e in effects if self.reaches(e.to)]
        if mine:
            await self._state.enqueue(mine)
            await self.flush()

    async def flush(self) -> bool:
        """Post what the outbox holds. True when it is empty afterwards (or another process
        is posting it); False when Slack is unavailable and a retry has been scheduled."""
        if await self._flush_once():
            return True
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._flush_later())
        return False

    async def _flush_once(self) -> bool:
        while True:
            lock = self._state.flush_lock(LOCK_SECONDS)
            if not await lock.acquire():
                return True  # another flush is under way and will see what was queued
            try:
                drained = await self._drain(lock)
            finally:
                with contextlib.suppress(LockError):
                    await lock.release()
            if not drained:
                return False
            # something may have been queued after our last look and before the release,
            # by a caller whose flush found the lock taken
            if await self._state.pending() == 0:
                return True

    async def _drain(self, lock: Lock) -> bool:
        while (head := await self._state.head_raw()) is not None:
            try:
                effect = self._state.parse(head)
                await self._post(effect)
            except ValidationError as exc:
                await self._state.dead_letter(head, f"unreadable effect: {exc}")
                continue
            except Exception as exc:
                if transient(exc):
                    log.warning("slack.unavailable", error=str(exc)[:300], queued=True)
                    return False
                log.error("slack.refused", error=str(exc)[:300], effect=head[:300])
                await self._state.dead_letter(head, str(exc)[:1000])
                continue
            await self._state.done(head)
            await lock.reacquire()
        return True

    async def _flush_later(self) -> None:
        """Flush until the outbox is empty, pausing `retry_delay` before the first try and
        twice as long before each next one, up to MAX_RETRY_DELAY."""
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self._retry_delay, max=MAX_RETRY_DELAY),
            before_sleep=_log_flush_error,
            sleep=self._sleep,
        )
        async for attempt in retrying:
            with attempt:
                # The first try is the flush that found Slack unavailable and scheduled this.
                if attempt.retry_state.attempt_number == 1 or not await self._flush_once():
                    raise SlackUnavailable("the outbox is not empty yet")

    async def retried(self) -> None:
        """Wait until the retry under way, if any, has emptied the outbox (tests)."""
        if self._retry is not None:
            await self._retry

    async def close(self) -> None:
        """Stop retrying (what is queued stays queued for the next start)."""
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry

    # --- one effect ---------------------------------------------------------------------
    async def _post(self, effect: Effect) -> None:
        reply = effect.reply
        if isinstance(effect, Ephemeral):
            await self._ephemeral(effect.to, reply)
            return
        posted = await self._state.posted(reply.id)
        if isinstance(effect, Update) and posted is not None:
            if await self._update(posted, reply):
                return
        elif posted is not None:
            return  # already in Slack: a message is never posted twice
        await self._send(effect.to, reply)

    async def _send(self, to: Address, reply: Reply) -> None:
        place = await self._place(to)
        if place is None:
            return
        try:
            posted = await self._post_message(place, reply)
        except Unreachable:
            if to.person is None or to.conversation is None:
                raise
            dm = await self._people.dm_channel(to.person)
            if dm is None or dm == place.channel:
                raise
            posted = await self._post_message(Place(dm), reply)
        await self._state.remember_post(reply.id, posted)
        if place.starts_thread is not None and posted.channel == place.channel:
            await self._state.remember_thread(place.starts_thread, posted)

    async def _post_message(self, place: Place, reply: Reply) -> Posted:
        rendered = await self._render(reply)
        try:
            answer = await self._call_post(place, rendered)
        except SlackApiError as exc:
            error = error_of(exc)
            if error in UNREACHABLE:
                raise Unreachable(error) from exc
            if error not in REFUSED_BLOCKS or not rendered.blocks:
                raise
            log.error("slack.blocks_refused", error=error, message=reply.id)
            answer = await self._call_post(place, text_only(reply))
        return Posted(channel=str(answer["channel"]), ts=str(answer["ts"]))

    async def _call_post(self, place: Place, rendered: Rendered) -> Any:
        args: dict[str, Any] = {"channel": place.channel, "text": rendered.text}
        if rendered.blocks:
            args["blocks"] = rendered.blocks
        if place.thread_ts:
            args["thread_ts"] = place.thread_ts
        return await self._client.chat_postMessage(**args, unfurl_links=False)

    async def _update(self, posted: Posted, reply: Reply) -> bool:
        """Edit a posted message in place; False when it is gone (then it is posted anew)."""
        rendered = await self._render(reply)
        try:
            await self._client.chat_update(
                channel=posted.channel, ts=posted.ts, text=rendered.text, blocks=rendered.blocks
            )
        except SlackApiError as exc:
            error = error_of(exc)
            if error in GONE:
                return False
            if error not in REFUSED_BLOCKS or not rendered.blocks:
                raise
            plain = text_only(reply)
            await self._client.chat_update(
                channel=posted.channel, ts=posted.ts, text=plain.text, blocks=[]
            )
        return True

    async def _ephemeral(self, to: Address, reply: Reply) -> None:
        user_id = await self._people.user_id(to.person) if to.person else None
        place = await self._place(to)
        if user_id is None or place is None:
            return
        rendered = await self._render(reply)
        args: dict[str, Any] = {"channel": place.channel, "user": user_id, "text": rendered.text}
        if rendered.blocks:
            args["blocks"] = rendered.blocks
        if place.thread_ts:
            args["thread_ts"] = place.thread_ts
        try:
            await self._client.chat_postEphemeral(**args)
        except SlackApiError as exc:
            if error_of(exc) not in UNREACHABLE or to.person is None:
                raise
            # the command came from a channel the desk is not in: tell them in their DM
            await self._send(Address(person=to.person), reply)

    async def _render(self, reply: Reply) -> Rendered:
        card = reply.card
        if card is not None and uses_modal(card, self._inline_max):
            options = [Option(label=b.label, action=b.action, ref=b.ref) for b in card.buttons]
            await self._state.remember_choices(reply.id, card.title, options)
        return render(reply, inline_max=self._inline_max)

    async def _place(self, to: Address) -> Place | None:
        channel: str | None
        if to.conversation is not None:
            channel = to.conversation.removeprefix(PREFIX)
        elif to.channel is not None:
            channel = self._oncall_channel
        elif to.person is not None:
            channel = await self._people.dm_channel(to.person)
        else:
            channel = None
        if not channel:
            return None
        if to.thread is None:
            return Place(channel)
        root = await self._state.thread_root(to.thread)
        if root is not None and root.channel == channel:
            return Place(channel, thread_ts=root.ts)
        return Place(channel, starts_thread=to.thread)
