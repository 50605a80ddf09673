"""Reaching out first about lockouts: every `every`, one desk worker reads the directory's
`LockoutFeed` from the cursor kept in Redis and writes to each person it found locked (or
flagged for a risky sign-in) to ask whether it was them, with buttons to answer
(`bot.outreach_answers`). A lockout is taken on once, whichever desk process sees it first
(an atomic claim), and the cursor moves on only once its page is done: a feed that cannot be
read, or a message that could not be sent, is polled again later from the same cursor.

Nobody is written to whom the directory does not know, whose account is disabled, or whom
policy leaves alone (`bot.outreach_optout`; never a privileged account). Someone the chat
platforms cannot reach (never opened the app, or the platform refuses) gets the notice by
e-mail at the addresses on record instead. Every outreach is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from bot.clock import Clock
from bot.models import Address, Person, Reply, Send, new_message_id
from bot.outbound import Outbound, Reach
from bot.outreach_notice import card, choices, email
from bot.outreach_optout import OptOut
from bot.ports import Directory, Lockout, LockoutFeed, NotFoundError, Outbox, Unsupported
from bot.scheduler import Job, RetryPolicy, Scheduler
from bot.state.audit import AuditLog
from bot.state.outreach import OutreachRecords
from bot.state.refs import ButtonRefs, NewRef

log = structlog.get_logger("itdesk.outreach")
POLL, POLL_ID = "outreach.poll", "outreach-poll"
MAX_BACKOFF = timedelta(minutes=15)


@dataclass(frozen=True)
class OutreachDeps:
    feed: LockoutFeed
    records: OutreachRecords
    directory: Directory
    optout: OptOut
    refs: ButtonRefs
    outbound: Outbound | None
    outbox: Outbox
    audit: AuditLog
    scheduler: Scheduler
    clock: Clock
    every: timedelta


class Outreach:
    def __init__(self, deps: OutreachDeps) -> None:
        if deps.every <= timedelta(0):
            raise ValueError("lockouts are polled every so many seconds, more than 0")
        self._d = deps

    def register_jobs(self) -> None:
        # a feed that is down is polled again, from the same cursor, until it answers
        every = self._d.every
        retry = RetryPolicy(max_attempts=None, backoff=every, max_backoff=max(every, MAX_BACKOFF))
        self._d.scheduler.register(POLL, self._on_poll, retry=retry)

    async def start(self) -> None:
        """At start-up: check the groups policy names against the directory (an unknown one
        stops start-up, as invalid policy does), and make sure a poll is scheduled."""
        d = self._d
        try:
            await d.optout.check(d.directory)
        except (ConnectionError, TimeoutError, OSError):
            log.warning("outreach.groups_unchecked", reason="directory unavailable")
        await d.scheduler.schedule(POLL, d.clock.now(), {}, job_id=POLL_ID, if_absent=True)

    async def _on_poll(self, job: Job) -> None:
        await self.poll()
        d = self._d
        await d.scheduler.schedule(POLL, d.clock.now() + d.every, {}, job_id=POLL_ID)

    async def poll(self) -> int:
        """One poll: every new lockout reached out about; how many people were written to."""
        d = self._d
        page = await d.feed.lockouts_since(await d.records.cursor())
        reached = 0
        for lockout in page.lockouts:
            reached += await self.reach(lockout)
        await d.records.save_cursor(page.cursor)
        return reached

    async def reach(self, lockout: Lockout) -> bool:
        """Write to the person about one lockout, unless another poll took it on already or
        they are not to be written to. A failure gives the lockout back for the next poll."""
        d = self._d
        if not await d.records.claim(lockout.id):
            return False
        try:
            person = await d.directory.person(lockout.username)
            if person is None:
                log.info("outreach.unknown_person", lockout=lockout.id, source=lockout.source)
                return False
            if person.disabled:
                await self._audit("outreach.skipped", lockout, reason="disabled")
                return False
            skip = d.optout.skips(person, kind=lockout.kind)
            if skip is not None:
                await self._audit("outreach.skipped", lockout, reason=skip.reason,
                                  policies=list(skip.policies))  # fmt: skip
                return False
            await self._tell(lockout, person)
        except Exception:
            await d.records.release(lockout.id)
            raise
        return True

    async def _tell(self, lockout: Lockout, person: Person) -> None:
        d = self._d
        if d.outbound is not None and await self._reaches(d.outbound, person.username):
            message = new_message_id()
            data = {"lockout": lockout.model_dump(mode="json"), "message": message}
            actions = choices(lockout)
            tokens = await d.refs.mint_all(
                [NewRef(action=a, allowed=[person.username], data=data) for a in actions]
            )
            dm = card(lockout, dict(zip(actions, tokens, strict=True)))
            reply = Reply(id=message, text=dm.text, card=dm)
            await d.outbound.deliver([Send(to=Address.dm(person.username), reply=reply)])
            await self._audit("outreach.sent", lockout, message=message)
            return
        await self._audit("outreach.dm_failed", lockout)
        try:
            sent = await d.outbox.deliver(email(lockout, person, d.clock.now()))
        except (NotFoundError, Unsupported) as exc:  # no address on record: nothing to retry
            await self._audit("outreach.email_failed", lockout, error=type(exc).__name__)
            return
        await self._audit("outreach.emailed", lockout, address=sent.address)

    async def _reaches(self, outbound: Outbound, username: str) -> bool:
        if not isinstance(outbound, Reach):
            return True  # an adapter that cannot tell: its own outbox delivers or retries
        try:
            return await outbound.reaches(username)
        except Exception:
            # the platform is not answering now: the DM waits in its outbox like any other
            log.warning("outreach.reach_unknown", user=username, exc_info=True)
            return True

    async def _audit(self, kind: str, lockout: Lockout, **more: Any) -> None:
        await self._d.audit.append(record(kind, lockout, self._d.clock, **more))


def record(kind: str, lockout: Lockout, clock: Clock, **more: Any) -> dict[str, Any]:
    """An audit record about one lockout: what the desk did, for whom, seen where, when."""
    return {
        "type": kind,
        "lockout": lockout.id,
        "user": lockout.username,
        "kind": lockout.kind,
        "source": lockout.source,
        "locked_at": lockout.at.isoformat(),
        "reason": lockout.reason,
        "at": clock.now().isoformat(),
        **more,
    }
