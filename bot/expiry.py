"""Taking time-bound access away, one attempt at a time, on the grant's case.

An attempt runs `remove_from_group` as an action of the case and reads the person back from
the directory: only when they are no longer in the group has the grant ended (the person is
told, the lateness recorded, on call told if it had heard of the grant). Any other result is
a failed attempt, counted on the grant; past the overdue bound the grant is flagged: a case
event, one notice in the case's on-call thread, and the person's status card saying the
access is still there and IT is on it. A grant the desk never confirmed as its own (the
person may have been a member before) is not removed: it is flagged for a human instead.

Scheduling the next attempt is the caller's (`bot.access`); nothing here gives up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import structlog

from bot import texts
from bot.actions import ActionRunner, Provenance
from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext, requester_address
from bot.events import AccessEnded, AccessOverdue, AccessStopped, StatusCard
from bot.models import Address, Card, CardField, Reply, new_message_id
from bot.plans import PlanStep
from bot.ports import Directory
from bot.scheduler import Job
from bot.state.grants import Flag, Grant, GrantRepository
from bot.systemturns import SystemTurns

log = structlog.get_logger("itdesk.access")
ERROR_CHARS = 160  # of the last error, kept on the grant and shown to on call


class Outcome(StrEnum):
    ENDED = "ended"  # out of the group, read back; the grant is dropped
    FAILED = "failed"  # still in (or unknown): try again
    WAITING = "waiting"  # never confirmed as the desk's: a human decides
    GONE = "gone"  # the case holds no such grant any more (ended, released, stopped)


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    grant: Grant | None = None  # as it is stored after the attempt (failed or waiting)
    error: str | None = None


class StillAMember(Exception):
    """The removal ran, but the directory still lists the person in the group."""


@dataclass(frozen=True)
class ExpiryDeps:
    grants: GrantRepository
    actions: ActionRunner
    directory: Directory
    system: SystemTurns
    clock: Clock
    oncall_channel: str
    overdue: timedelta  # after the grant's end, when a failing removal is flagged


class Expiry:
    def __init__(self, deps: ExpiryDeps) -> None:
        self._d = deps

    async def attempt(self, job: Job, case_id: str, user: str, group: str) -> Attempt:
        """Try once to end the case's grant of `group` to `user`, under the case's lock."""
        d = self._d
        async with d.system.on_case(job, case_id) as (ctx, case):
            grant = await d.grants.get(user, group)
            if grant is None or grant.case != case_id:
                return Attempt(Outcome.GONE)
            if case is None:
                log.warning("access.case_gone", case=case_id, user=user, group=group)
                return Attempt(Outcome.GONE)
            if not grant.confirmed:
                return Attempt(Outcome.WAITING, await self._flag(ctx, case, grant, "unconfirmed"))
            try:
                action_id = await self._remove(ctx, case, grant)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
                return Attempt(Outcome.FAILED, await self._failed(ctx, case, grant, error), error)
            await self._ended(ctx, case, grant, action_id)
            return Attempt(Outcome.ENDED)

    async def stopped(self, ctx: TurnContext, case: Case, grant: Grant, reason: str) -> None:
        """Record that `ctx.person` stopped the removal of `grant`, and tell on call."""
        await ctx.record(
            case,
            AccessStopped(user=grant.user, group=grant.group, due=grant.until, reason=reason,
                          attempts=grant.attempts),
        )  # fmt: skip
        person, group = await self._names(grant)
        said = texts.say("access.stopped", name=ctx.person.name, person=person, group=group,
                         reason=reason)  # fmt: skip
        self._tell_oncall(ctx, case, grant, said, person, group)

    async def _remove(self, ctx: TurnContext, case: Case, grant: Grant) -> str:
        """Run the removal and read it back: the action's id once the person is out."""
        d = self._d
        why = Provenance(
            requested_by=case.requester,
            approved_by=tuple(case.approvers()),
            policy=(*case.acting_policies(), "access.time-bound"),
            verification=case.verification(),
        )
        step = PlanStep(
            skill="remove_from_group", params={"user": grant.user, "group": grant.group}
        )
        # A fresh key after each failure: a run recorded as done while the person was put
        # back (by hand, or by a lagging replica) must not stand in for a removal forever.
        key = f"expire:{case.id}:{grant.group}" + (f":{grant.attempts}" if grant.attempts else "")
        _, executed = await d.actions.run(ctx, case, step, why, key=key)
        person = await d.directory.person(grant.user)
        if person is not None and grant.group in person.groups:
            raise StillAMember(f"{grant.user} is still in {grant.group} after the removal")
        return executed.action_id

    async def _failed(self, ctx: TurnContext, case: Case, grant: Grant, error: str) -> Grant:
        d = self._d
        now = d.clock.now()
        grant = grant.model_copy(
            update={"attempts": grant.attempts + 1, "last_error": error,
                    "first_failure": grant.first_failure or now}
        )  # fmt: skip
        log.warning("access.removal_failed", case=case.id, user=grant.user, group=grant.group,
                    attempts=grant.attempts, error=error)  # fmt: skip
        if grant.flag is None and now >= grant.until + d.overdue:
            return await self._flag(ctx, case, grant, "overdue")
        await d.grants.put(grant)
        return grant

    async def _flag(self, ctx: TurnContext, case: Case, grant: Grant, reason: Flag) -> Grant:
        """Tell on call (once per grant), record it on the case, and say so on the card."""
        d = self._d
        if grant.flag is not None:
            return grant
        event = AccessOverdue(
            reason=reason,
            user=grant.user,
            group=grant.group,
            due=grant.until,
            attempts=grant.attempts,
            first_failure=grant.first_failure,
            last_error=grant.last_error,
        )
        case = await ctx.record(case, event, actor="desk")  # fmt: skip
        notice = new_message_id()
        grant = grant.model_copy(
            update={"flag": reason, "flagged_at": d.clock.now(), "notice": notice}
        )
        person, group = await self._names(grant)
        card = self._notice(case, grant, person, group)
        ctx.send(self._thread(case), Reply(id=notice, text=card.title, card=card))
        said = texts.say("access.still_there" if reason == "overdue" else "access.checking",
                         group=group, due=_when(grant.until))  # fmt: skip
        _status(ctx, case, said)
        await d.grants.put(grant)
        log.warning("access.flagged", case=case.id, user=grant.user, group=grant.group,
                    reason=reason, attempts=grant.attempts)  # fmt: skip
        return grant

    async def _ended(self, ctx: TurnContext, case: Case, grant: Grant, action_id: str) -> None:
        d = self._d
        now = d.clock.now()
        late = max(0, int((now - grant.until).total_seconds()))
        ended = AccessEnded(
            user=grant.user,
            group=grant.group,
            due=grant.until,
            removed_at=now,
            late_by_seconds=late,
            attempts=grant.attempts,
            action_id=action_id,
        )
        case = await ctx.record(case, ended, actor="desk")  # fmt: skip
        held = await d.grants.get(grant.user, grant.group)
        if held is not None and held.case == grant.case:
            await d.grants.remove(grant.user, grant.group)
        person, group = await self._names(grant)
        ctx.send(requester_address(case), ctx.text_reply(texts.say("access.ended", group=group)))
        log.info("access.ended", case=case.id, user=grant.user, group=grant.group, late_s=late)
        if grant.flag is not None:
            _status(ctx, case, texts.say("access.ended_card", group=group))
            said = texts.say("access.removed_late", person=person, group=group, late=_late(late))
            self._tell_oncall(ctx, case, grant, said, person, group)

    def _tell_oncall(
        self, ctx: TurnContext, case: Case, grant: Grant, said: str, person: str, group: str
    ) -> None:
        """A line in the case's on-call thread, and its notice (if any) closed with it."""
        thread = self._thread(case)
        ctx.send(thread, ctx.text_reply(said))
        if grant.notice is not None:
            card = self._notice(case, grant, person, group).model_copy(update={"context": said})
            ctx.update(thread, Reply(id=grant.notice, text=card.title, card=card))

    def _notice(self, case: Case, grant: Grant, person: str, group: str) -> Card:
        """The on-call notice of a flagged grant: the facts, and how a human settles it."""
        overdue = grant.flag != "unconfirmed"
        fields = [
            CardField(label=texts.say("access.person_field"), value=person),
            CardField(label=texts.say("access.group_field"), value=group),
            CardField(label=texts.say("access.due_field"), value=_when(grant.until)),
            CardField(label=texts.say("access.attempts_field"), value=str(grant.attempts)),
        ]
        if grant.last_error:
            fields.append(CardField(label=texts.say("access.error_field"), value=grant.last_error))
        return Card(
            kind="info",
            title=texts.say("access.overdue_title" if overdue else "access.unconfirmed_title"),
            text=texts.say("access.overdue_text" if overdue else "access.unconfirmed_text",
                           person=person, group=group, due=_when(grant.until)),
            fields=tuple(fields),
            context=texts.say("access.how_to_stop" if overdue else "access.how_to_decide",
                              case_id=case.id, group=grant.group),
            case_id=case.id,
            about=case.requester,
        )  # fmt: skip

    def _thread(self, case: Case) -> Address:
        return Address.case_thread(self._d.oncall_channel, case.id)

    async def _names(self, grant: Grant) -> tuple[str, str]:
        """The person's and the group's names, or their ids while the directory is down."""
        d = self._d
        try:
            person, group = (
                await d.directory.person(grant.user),
                await d.directory.group(grant.group),
            )
        except Exception:
            log.warning("access.names_unavailable", user=grant.user, group=grant.group)
            return grant.user, grant.group
        return (person.name if person else grant.user), (group.name if group else grant.group)


def _status(ctx: TurnContext, case: Case, context: str) -> None:
    """The case's status card, its note replaced by `context`."""
    status_card = case.last(StatusCard)
    if status_card is not None:
        card = status_card.card.model_copy(update={"context": context})
        ctx.update(
            requester_address(case), Reply(id=status_card.message, text=card.text, card=card)
        )


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


def _late(seconds: int) -> str:
    if seconds < 7200:
        return texts.say("access.minutes", count=round(seconds / 60))
    return texts.say("access.hours", count=round(seconds / 3600))
