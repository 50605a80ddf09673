"""Where the desk's effects go in Teams, and how they get there without an inbound activity.

A reply goes to the conversation it answers; a message to a person goes to their one-to-one
chat with the bot, opened through the Bot Connector when they never wrote to it (an approver);
a message for the on-call channel goes to the case's thread there, started by its first
message; an update replaces the activity that was posted for that desk message. Everything
the desk needs to find a conversation again is in `TeamsState`.

Every call to the Bot Connector waits its turn of the conversation and of the tenant, shared
by every desk process, and one refused as too many is made again (`teams_pace`). The effects
of one delivery go out in lanes, one per person or conversation, side by side: a person's
chat waiting its turn does not hold up the on-call thread.

No botbuilder here: the calls to the Bot Connector go through the small `Connector` protocol,
which `adapters.chat.teams` implements with botbuilder's connector client (and which raises
`ConnectorBusy` when the service says to wait)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol

import structlog

from adapters.chat.teams_pace import ConnectorBusy, ConnectorTurns, TeamsPace
from adapters.chat.teams_state import ConversationRef, Posted, Service, TeamsAccount, TeamsState
from bot.models import Address, Effect, Ephemeral, Reply, Update
from bot.ports import Directory

log = structlog.get_logger("itdesk.teams")


class Connector(Protocol):
    """The Bot Connector operations the desk uses (the Bot Framework REST API, v3)."""

    async def send(self, ref: ConversationRef, reply: Reply) -> str:
        """Post `reply` into a conversation; the new activity's id."""
        ...

    async def update(self, posted: Posted, reply: Reply) -> None:
        """Replace a posted activity with `reply`."""
        ...

    async def member(
        self, service: Service, conversation_id: str, user: str
    ) -> TeamsAccount | None:
        """A member of a conversation by Teams id, Entra object id or UPN; None if absent."""
        ...

    async def open_dm(
        self, service: Service, account: TeamsAccount, tenant_id: str | None
    ) -> ConversationRef | None:
        """The one-to-one chat of the bot with `account` (created, or the existing one)."""
        ...

    async def open_thread(
        self, service: Service, channel: str, tenant_id: str | None, reply: Reply
    ) -> Posted:
        """A new thread in a channel, with `reply` as its first message."""
        ...


class TeamsOutbound:
    """Delivers the desk's effects into Teams."""

    def __init__(
        self,
        state: TeamsState,
        connector: Connector,
        directory: Directory,
        *,
        desk_channel: str,
        teams_channel: str | None,
        default_service: Service,
        tenant_id: str | None,
        pace: TeamsPace | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`desk_channel` is the desk's name for the on-call channel (`Address.channel`),
        `teams_channel` the Teams channel id it stands for (None: no escalation threads in
        Teams); `default_service` is used until an activity names the Bot Connector. `sleep`
        and `clock` (seconds) pace the calls; tests give virtual ones."""
        self.state = state
        self.connector = connector
        self.turns = ConnectorTurns(state.store, pace, sleep=sleep, clock=clock)
        self.directory = directory
        self.desk_channel = desk_channel
        self.teams_channel = teams_channel
        self.default_service = default_service
        self.tenant_id = tenant_id

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Post the desk's effects, in order within each lane and lanes side by side. Effects
        for places Teams cannot reach (another platform's conversation, someone who is not in
        Teams) are skipped; a failure is logged and does not stop the other effects."""
        lanes: dict[str, list[Effect]] = {}
        lane_of: dict[str, str] = {}  # an update goes in the lane of the send it updates
        for effect in effects:
            to = effect.to
            lane = lane_of.get(effect.reply.id) or to.person or to.conversation or f"#{to.channel}"
            lane_of[effect.reply.id] = lane
            lanes.setdefault(lane, []).append(effect)
        await asyncio.gather(*(self._deliver_lane(lane) for lane in lanes.values()))

    async def _deliver_lane(self, effects: list[Effect]) -> None:
        for effect in effects:
            try:
                if isinstance(effect, Update):
                    await self._update(effect.reply)
                else:
                    await self._send(effect)
            except Exception:
                log.exception("teams.deliver_failed", kind=effect.kind, message=effect.reply.id)

    async def _send(self, effect: Effect) -> None:
        reply = effect.reply
        if not (reply.text.strip() or reply.card) or await self.state.post(reply.id):
            return  # nothing to show, or already posted (a retried delivery)
        to = effect.to
        if to.conversation is None and to.channel is not None:
            await self._send_to_channel(to, reply)
            return
        ref = await self._target(to, ephemeral=isinstance(effect, Ephemeral))
        if ref is None:
            return
        activity_id = await self._send_into(ref, reply)
        await self.state.remember_post(reply.id, Posted(conversation=ref, activity_id=activity_id))

    async def _target(self, to: Address, *, ephemeral: bool) -> ConversationRef | None:
        if to.conversation is not None:
            ref = await self.state.conversation(to.conversation)
            if ref is not None and ephemeral and ref.kind != "personal" and to.person:
                return await self.dm(to.person)  # Teams has no ephemeral messages
            return ref  # None: another platform's conversation
        return await self.dm(to.person) if to.person else None

    async def _send_to_channel(self, to: Address, reply: Reply) -> None:
        if to.channel != self.desk_channel or not self.teams_channel:
            return
        thread = await self.state.thread(to.thread) if to.thread else None
        if thread is not None:
            posted = Posted(conversation=thread, activity_id=await self._send_into(thread, reply))
        else:
            service = await self.service()
            tenant = self.tenant_id or service.tenant_id
            channel = self.teams_channel
            posted = await self.turns.call(
                lambda: self.connector.open_thread(service, channel, tenant, reply),
                tenant=tenant,
                conversation=channel,
            )
            if to.thread:
                await self.state.remember_thread(to.thread, posted.conversation)
        await self.state.remember_post(reply.id, posted)

    async def _update(self, reply: Reply) -> None:
        posted = await self.state.post(reply.id)
        if posted is None:
            log.debug("teams.update_unknown_message", message=reply.id)
            return
        ref = posted.conversation
        await self.turns.call(
            lambda: self.connector.update(posted, reply),
            tenant=self._tenant_of(ref),
            conversation=ref.conversation_id,
        )

    async def _send_into(self, ref: ConversationRef, reply: Reply) -> str:
        return await self.turns.call(
            lambda: self.connector.send(ref, reply),
            tenant=self._tenant_of(ref),
            conversation=ref.conversation_id,
        )

    def _tenant_of(self, ref: ConversationRef) -> str | None:
        return self.tenant_id or ref.tenant_id

    # --- proactive conversations ------------------------------------------------------
    async def service(self) -> Service:
        """The Bot Connector to call when no conversation names one."""
        return await self.state.service() or self.default_service

    async def dm(self, username: str) -> ConversationRef | None:
        """The one-to-one chat with `username`: stored, or opened now through the Bot
        Connector (someone who never wrote to the bot, such as an approver)."""
        ref = await self.state.dm(username)
        if ref is not None or await self.state.unreachable(username):
            return ref
        account = await self.state.account_of(username) or await self._find_account(username)
        if account is not None:
            service = await self.service()
            tenant = self.tenant_id or account.tenant_id or service.tenant_id
            ref = await self.turns.call(
                lambda: self.connector.open_dm(service, account, tenant), tenant=tenant
            )
        if ref is None:
            log.info("teams.unreachable", person=username)
            await self.state.mark_unreachable(username)
            return None
        await self.state.remember_dm(username, ref)
        return ref

    async def _find_account(self, username: str) -> TeamsAccount | None:
        """Look a person up by e-mail (UPN) among the members of the teams the app is in:
        the on-call channel's team first, then every team the bot has heard from (an
        org-wide team reaches everyone)."""
        person = await self.directory.person(username)
        if person is None:
            return None
        places = [self.teams_channel] if self.teams_channel else []
        places += [team for team in await self.state.teams() if team not in places]
        service = await self.service()
        for place in places:
            account = await self.turns.call(
                partial(self.connector.member, service, place, person.email),
                tenant=self.tenant_id or service.tenant_id,
            )
            if account is not None:
                await self.state.remember_account(account, username)
                return account
        return None


__all__ = ["Connector", "ConnectorBusy", "TeamsOutbound"]
