"""One desk effect into Slack, at Slack's pace: where it goes (a channel, a case's thread, a
person's DM), Block Kit from `slack_blocks`, and the `chat.*` call that posts, edits or shows
it, each in its turn of the channel's pace (`adapters.chat.pace`).

Slack's published limits (docs.slack.dev/reference/methods/chat.postMessage and
docs.slack.dev/apis/web-api/rate-limits): chat.postMessage "will generally allow an app to
post 1 message per second to a specific channel", with a workspace-wide limit of "several
hundred messages per minute"; short bursts over 1 per second are allowed but "there is no
guarantee that messages will be stored or displayed" when an app bursts, so the desk bursts
little. chat.update is Tier 3 (50+ per minute per workspace) and chat.postEphemeral Tier 4
(100+ per minute). Every chat call to a channel takes a turn of that channel and one of its
method's workspace-wide pace. A 429 holds the channel back for its Retry-After, for every
desk process, and the call is made again in its next turn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat.pace import Pace, Rate
from adapters.chat.slack_blocks import Rendered, render, text_only, uses_modal
from adapters.chat.slack_people import SlackPeople
from adapters.chat.slack_state import Option, Posted, SlackState
from bot.models import Address, Effect, Ephemeral, Reply, Update

log = structlog.get_logger("itdesk.slack")

Method = Literal["posts", "updates", "ephemerals"]  # the chat methods' workspace-wide paces
PREFIX = "slack:"  # Turn.conversation_id of a Slack conversation: "slack:<channel id>"
UNREACHABLE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "user_not_in_channel"}
)
REFUSED_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long"})
GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


CHANNEL_PACE = Rate(1.0, burst=3)  # "1 message per second to a specific channel"
# Slack publishes no number for the workspace-wide limits (the tiers say "50+", "100+" a
# minute: floors, not ceilings, and a workspace's real allowance is larger). Pacing a whole
# workspace at those floors would hold every person's reply behind everyone else's at 20
# DMs a second; so the workspace paces are generous backstops, and what Slack actually
# enforces is met by the per-channel pace and by every 429's Retry-After, which holds the
# method back in every process.
POSTS_PACE = Rate.per_second(100, burst=200)
UPDATES_PACE = Rate.per_second(50, burst=100)
EPHEMERALS_PACE = Rate.per_second(50, burst=100)


@dataclass(frozen=True)
class SlackPace:
    """How fast the desk posts: per channel, and per workspace for each chat method."""

    channel: Rate = CHANNEL_PACE
    posts: Rate = POSTS_PACE
    updates: Rate = UPDATES_PACE
    ephemerals: Rate = EPHEMERALS_PACE


class Lease(Protocol):
    """The hold of a lane while one of its effects is posted: `pause` waits, keeping it."""

    async def pause(self, seconds: float) -> None: ...


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


def retry_after(exc: SlackApiError) -> float | None:
    """The seconds a 429 asks to wait (1 when it does not say), None for any other error."""
    if exc.response.status_code != 429:
        return None
    value: Any = None
    for name, found in (exc.response.headers or {}).items():
        if name.lower() == "retry-after":
            value = found[0] if isinstance(found, list | tuple) else found
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


class SlackPoster:
    """Posts one effect; the outbox (`slack_delivery`) decides which and when."""

    def __init__(
        self,
        client: AsyncWebClient,
        state: SlackState,
        people: SlackPeople,
        pace: Pace,
        *,
        rates: SlackPace,
        oncall_channel: str | None,
        inline_max: int,
        rate_limit_retries: int,
    ) -> None:
        self._client = client
        self._state = state
        self._people = people
        self._pace = pace
        self._rates = rates
        self._oncall_channel = oncall_channel
        self._inline_max = inline_max
        self._rate_limit_retries = rate_limit_retries

    async def post(self, effect: Effect, lease: Lease) -> None:
        """Post, edit or show one effect; raises what Slack answered when it could not."""
        reply = effect.reply
        if isinstance(effect, Ephemeral):
            await self._ephemeral(effect.to, reply, lease)
            return
        posted = await self._state.posted(reply.id)
        if isinstance(effect, Update) and posted is not None:
            if await self._update(posted, reply, lease):
                return
        elif posted is not None:
            return  # already in Slack: a message is never posted twice
        await self._send(effect.to, reply, lease)

    # --- in the channel's turn ------------------------------------------------------------
    async def _in_turn(
        self, channel: str, method: Method, lease: Lease, call: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Make one chat call in the channel's next turn; after a 429, hold the channel back
        as long as Slack asked and call again in the turn after that."""
        rates = self._rates
        method_rate = {"posts": rates.posts, "updates": rates.updates}.get(method, rates.ephemerals)
        here = f"channel:{channel}"
        places = [(here, rates.channel), (f"workspace:{method}", method_rate)]
        for attempt in range(self._rate_limit_retries + 1):
            await lease.pause(await self._pace.book(places))
            try:
                return await call()
            except SlackApiError as exc:
                wait = retry_after(exc)
                if wait is None or attempt == self._rate_limit_retries:
                    raise
                log.info("slack.held_back", channel=channel, seconds=wait)
                await self._pace.hold(here, rates.channel, wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    # --- one effect ---------------------------------------------------------------------
    async def _send(self, to: Address, reply: Reply, lease: Lease) -> None:
        place = await self._place(to)
        if place is None:
            return
        try:
            posted = await self._post_message(place, reply, lease)
        except Unreachable:
            if to.person is None or to.conversation is None:
                raise
            dm = await self._people.dm_channel(to.person)
            if dm is None or dm == place.channel:
                raise
            posted = await self._post_message(Place(dm), reply, lease)
        await self._state.remember_post(reply.id, posted)
        if place.starts_thread is not None and posted.channel == place.channel:
            await self._state.remember_thread(place.starts_thread, posted)

    async def _post_message(self, place: Place, reply: Reply, lease: Lease) -> Posted:
        rendered = await self._render(reply)
        try:
            answer = await self._call_post(place, rendered, lease)
        except SlackApiError as exc:
            error = error_of(exc)
            if error in UNREACHABLE:
                raise Unreachable(error) from exc
            if error not in REFUSED_BLOCKS or not rendered.blocks:
                raise
            log.error("slack.blocks_refused", error=error, message=reply.id)
            answer = await self._call_post(place, text_only(reply), lease)
        return Posted(channel=str(answer["channel"]), ts=str(answer["ts"]))

    async def _call_post(self, place: Place, rendered: Rendered, lease: Lease) -> Any:
        args: dict[str, Any] = {"channel": place.channel, "text": rendered.text}
        if rendered.blocks:
            args["blocks"] = rendered.blocks
        if place.thread_ts:
            args["thread_ts"] = place.thread_ts
        return await self._in_turn(
            place.channel,
            "posts",
            lease,
            lambda: self._client.chat_postMessage(**args, unfurl_links=False),
        )

    async def _update(self, posted: Posted, reply: Reply, lease: Lease) -> bool:
        """Edit a posted message in place; False when it is gone (then it is posted anew)."""
        rendered = await self._render(reply)

        async def edit(text: str, blocks: list[dict[str, Any]]) -> None:
            await self._in_turn(
                posted.channel,
                "updates",
                lease,
                lambda: self._client.chat_update(
                    channel=posted.channel, ts=posted.ts, text=text, blocks=blocks
                ),
            )

        try:
            await edit(rendered.text, rendered.blocks)
        except SlackApiError as exc:
            error = error_of(exc)
            if error in GONE:
                return False
            if error not in REFUSED_BLOCKS or not rendered.blocks:
                raise
            await edit(text_only(reply).text, [])
        return True

    async def _ephemeral(self, to: Address, reply: Reply, lease: Lease) -> None:
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
            await self._in_turn(
                place.channel,
                "ephemerals",
                lease,
                lambda: self._client.chat_postEphemeral(**args),
            )
        except SlackApiError as exc:
            if error_of(exc) not in UNREACHABLE or to.person is None:
                raise
            # the command came from a channel the desk is not in: tell them in their DM
            await self._send(Address(person=to.person), reply, lease)

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
