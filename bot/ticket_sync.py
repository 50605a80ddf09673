"""Following the IT team's ticket system: what a technician does to a ticket there reaches the
case it belongs to. A requester-visible comment is relayed to the person in chat; an
internal note and a new assignee are shown in the case's on-call thread only; a ticket
resolved or closed there resolves the case and asks the person whether that fixed it.

Changes come by webhook (`apply`, from the app's `/webhooks/<system>` route) and by polling
the `TicketFeed` from a cursor kept in Redis (`poll`, every `every`); either way a change is
taken on once (an atomic claim on its id) and the desk's own writes coming back are never
relayed. A change to a ticket no case of the desk's owns is left alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import structlog

from bot import texts
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import Relayed, Resolved
from bot.models import Address
from bot.ports import (
    Directory,
    TicketChange,
    TicketFeed,
    Tickets,
    TicketWebhooks,
    WebhookRefused,
)
from bot.scheduler import Job, RetryPolicy, Scheduler
from bot.state.feeds import FeedProgress
from bot.store import Store
from bot.systemturns import SystemTurns

log = structlog.get_logger("itdesk.ticket_sync")
POLL, POLL_ID = "tickets.poll", "tickets-poll"
KEPT = timedelta(days=30)  # how long a change's id is remembered as taken on
MAX_BACKOFF = timedelta(minutes=15)


class Feedback(Protocol):
    """Asks the person whether a resolved case fixed it (`bot.answers.Answers`)."""

    async def ask_feedback(self, ctx: TurnContext, case: Case) -> None: ...


@dataclass(frozen=True)
class TicketSyncDeps:
    tickets: Tickets
    feed: TicketFeed | None
    webhooks: TicketWebhooks | None
    directory: Directory
    system: SystemTurns
    feedback: Feedback
    scheduler: Scheduler
    store: Store
    clock: Clock
    oncall_channel: str
    every: timedelta


class TicketSync:
    def __init__(self, deps: TicketSyncDeps) -> None:
        self._d = deps
        self._progress = FeedProgress(deps.store.child("ticket-sync"), (), "change",
                                      keep_s=int(KEPT.total_seconds()))  # fmt: skip

    @property
    def polls(self) -> bool:
        """Whether it polls a feed (else it only takes the changes webhooks bring)."""
        return self._d.feed is not None and self._d.every > timedelta(0)

    def register_jobs(self) -> None:
        every = self._d.every
        retry = RetryPolicy(max_attempts=None, backoff=every, max_backoff=max(every, MAX_BACKOFF))
        self._d.scheduler.register(POLL, self._on_poll, retry=retry)

    async def start(self) -> None:
        if self.polls:
            now = self._d.clock.now()
            await self._d.scheduler.schedule(POLL, now, {}, job_id=POLL_ID, if_absent=True)

    async def _on_poll(self, job: Job) -> None:
        await self.poll()
        now = self._d.clock.now()
        await self._d.scheduler.schedule(POLL, now + self._d.every, {}, job_id=POLL_ID)

    async def poll(self) -> int:
        """One poll: every new change applied; how many were relayed or acted on."""
        feed = self._d.feed
        if feed is None:
            return 0
        page = await feed.changes_since(await self._progress.cursor())
        done = 0
        for change in page.changes:
            done += await self.apply(change)
        await self._progress.save_cursor(page.cursor)
        return done

    async def receive(self, headers: Mapping[str, str], body: bytes) -> int:
        """A webhook call: its changes applied once it is proven to be the ticket system's
        (how many reached a case). `WebhookRefused` for any other call, changing nothing."""
        if self._d.webhooks is None:
            raise WebhookRefused("no ticket system sends webhooks to this desk")
        done = 0
        for change in self._d.webhooks.parse(headers, body):
            done += await self.apply(change)
        return done

    async def apply(self, change: TicketChange) -> bool:
        """Take one change on (once): True when it reached a case."""
        if change.by_desk or change.kind == "opened":
            return False
        if not await self._progress.claim(change.id):
            return False
        try:
            return await self._reach_case(change)
        except Exception:
            await self._progress.release(change.id)  # taken on again by the next poll or call
            raise

    async def _reach_case(self, change: TicketChange) -> bool:
        ticket = await self._d.tickets.get(change.ticket_id)
        if ticket is None or ticket.case_id is None:
            return False
        job = Job(id=f"ticket-change:{change.id}", kind="tickets.change",
                  due=self._d.clock.now(), payload={})  # fmt: skip
        async with self._d.system.on_case(job, ticket.case_id) as (ctx, case):
            if case is None:
                return False
            await self._on_change(ctx, case, change)
        return True

    async def _on_change(self, ctx: TurnContext, case: Case, change: TicketChange) -> None:
        name = await self._name(change.by)
        thread = Address.case_thread(self._d.oncall_channel, case.id)
        if change.kind == "comment" and change.text.strip():
            await ctx.record(case, Relayed(sender="tech", text=change.text), actor="ticket")
            said = texts.say("ticket_sync.comment", name=name, ticket_id=change.ticket_id,
                             text=change.text.strip())  # fmt: skip
            ctx.send(Address.dm(case.requester), ctx.text_reply(said))
        elif change.kind == "note" and change.text.strip():
            said = texts.say("ticket_sync.note", name=name, text=change.text.strip())
            ctx.send(thread, ctx.text_reply(said))
        elif change.kind == "assignee":
            assignee = await self._name(change.assignee) if change.assignee else None
            said = (texts.say("ticket_sync.assigned", name=assignee) if assignee
                    else texts.say("ticket_sync.unassigned"))  # fmt: skip
            ctx.send(thread, ctx.text_reply(said))
        elif change.kind == "status" and change.status in {"resolved", "closed"} and case.open:
            case = await ctx.record(case, Resolved(), actor="ticket", status=CaseStatus.RESOLVED)
            ctx.send(thread, ctx.text_reply(texts.say("ticket_sync.resolved_thread", name=name)))
            said = texts.say("handoff.resolved", name=name, ticket_id=change.ticket_id)
            ctx.send(Address.dm(case.requester), ctx.text_reply(said))
            await self._d.feedback.ask_feedback(ctx, case)

    async def _name(self, who: str | None) -> str:
        """How the person is named in chat: their first name where the directory knows
        them by that e-mail or username, else a word for the IT team."""
        if who:
            try:
                person = (
                    await self._d.directory.person_by_email(who)
                    if "@" in who
                    else (await self._d.directory.person(who))
                )
            except Exception:
                person = None
            if person is not None:
                return person.first_name
        return texts.say("ticket_sync.someone")
