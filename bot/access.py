"""Time-bound access: a grant ends at the group's `max_days` (or a shorter asked-for time).

A grant is reserved before the directory write and confirmed once the add changed it; its
removal is a scheduled job that is retried with jitter until the person is out of the group
or a human stops it (never dead-lettered), plus a daily reconciliation sweep that never
cancels a removal job before its own removal was read back. Past the overdue bound on call
hears of it once (`bot.expiry`). The person is told the day before and when it ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot import texts
from bot.actions import ActionRunner, Executed, step_key
from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext, requester_address
from bot.expiry import Attempt, Expiry, ExpiryDeps, Outcome
from bot.plans import PlanStep
from bot.ports import Directory
from bot.scheduler import Job, RetryLater, RetryPolicy, Scheduler
from bot.settings import ACCESS_OVERDUE_MINUTES
from bot.state.grants import Grant, GrantRepository
from bot.systemturns import SystemTurns

log = structlog.get_logger("itdesk.access")
WARN_BEFORE = timedelta(days=1)
SWEEP_EVERY = timedelta(days=1)
WARN, EXPIRE, OVERDUE, SWEEP = "access.warn", "access.expire", "access.overdue", "access.sweep"
SWEEP_ID = "access-sweep"
# A removal is retried until it is done or a human stops it: 1 min doubling to 1 h, ±20%.
REMOVAL_RETRY = RetryPolicy(
    max_attempts=None, backoff=timedelta(minutes=1), max_backoff=timedelta(hours=1), jitter=0.2
)


@dataclass(frozen=True)
class AccessDeps:
    grants: GrantRepository
    scheduler: Scheduler
    actions: ActionRunner
    directory: Directory
    system: SystemTurns
    clock: Clock
    oncall_channel: str = "oncall"
    overdue: timedelta = timedelta(minutes=ACCESS_OVERDUE_MINUTES)


class TimeBoundAccess:
    """Grants that end on their own: reserved, confirmed or released by the acting side,
    removed by scheduled jobs, stopped by a human."""

    def __init__(self, deps: AccessDeps) -> None:
        self._d = deps
        self._expiry = Expiry(
            ExpiryDeps(deps.grants, deps.actions, deps.directory, deps.system, deps.clock,
                       deps.oncall_channel, deps.overdue)
        )  # fmt: skip

    def register_jobs(self) -> None:
        s = self._d.scheduler
        s.register(WARN, self._on_warn)
        s.register(EXPIRE, self._on_expire, retry=REMOVAL_RETRY)
        s.register(OVERDUE, self._on_overdue, retry=REMOVAL_RETRY)
        s.register(SWEEP, self._on_sweep, retry=REMOVAL_RETRY)

    # --- the acting side ---------------------------------------------------------------
    async def reserve(self, case_id: str, user: str, group: str, days: int, key: str) -> None:
        """Record a grant before the directory is written (`key`: the add's idempotency key)
        and schedule its end. Reserving again for the same case changes nothing."""
        d = self._d
        held = await d.grants.get(user, group)
        if held is not None and held.case == case_id:
            grant = held
        else:
            # another case's grant of the same access waits aside until this one is settled
            aside = held.model_copy(update={"supersedes": None}) if held else None
            until = d.clock.now() + timedelta(days=int(days))
            grant = Grant(case=case_id, user=user, group=group, until=until, key=key,
                          supersedes=aside)  # fmt: skip
            await d.grants.put(grant)
        await self._ensure_jobs(grant)
        log.info("access.reserved", user=user, group=group, until=grant.until.isoformat())

    async def confirm(self, case_id: str, group: str, action_id: str) -> None:
        """The add `action_id` changed the directory: the grant is the desk's to take away."""
        d = self._d
        grant = await d.grants.find(case_id, group)
        if grant is None:
            log.warning("access.confirm_unreserved", case=case_id, group=group)
            return
        if grant.confirmed:
            return
        aside = grant.supersedes
        grant = grant.model_copy(update={"action": action_id, "supersedes": None})
        await d.grants.put(grant)
        if aside is not None:  # this grant's end governs the access now
            await self._drop_jobs(aside.case, group)
        await self._ensure_jobs(grant)
        log.info("access.granted_until", user=grant.user, group=group,
                 until=grant.until.isoformat())  # fmt: skip

    async def release(self, case_id: str, group: str) -> None:
        """The add changed nothing or never happened: the reserved grant and its jobs go
        (a grant it had set aside comes back). A confirmed grant is kept: it is the desk's."""
        d = self._d
        grant = await d.grants.find(case_id, group)
        if grant is None:
            return
        if grant.confirmed:
            log.warning("access.release_of_confirmed", case=case_id, group=group)
            return
        await self._forget(grant)

    async def reserve_steps(self, case_id: str, steps: Sequence[PlanStep]) -> None:
        """Before a plan's steps run: every time-bound add among them reserved under its
        step's key, its end scheduled, so no grant exists without its expiry."""
        for index, (user, group, days) in _grants(steps):
            await self.reserve(case_id, user, group, days, step_key(case_id, index))

    async def settle_steps(self, case_id: str, steps: Sequence[PlanStep]) -> None:
        """After they ran (or failed, or were undone): each reserved grant confirmed if its
        add is in effect, released if it changed nothing or was undone, and left reserved
        while its outcome is unknown (at its end it is flagged, not removed)."""
        d = self._d
        for index, (_, group, _) in _grants(steps):
            key = step_key(case_id, index)
            action_id = await d.actions.in_effect(key)
            if action_id is not None:
                await self.confirm(case_id, group, action_id)
            elif not await d.actions.unsettled(key):
                await self.release(case_id, group)

    async def schedule_expiry(self, case: Case, executed: Executed) -> None:
        """An executed add with `days`: reserve and confirm at once."""
        user, group, days = executed.args["user"], executed.args["group"], executed.args["days"]
        stored = await self._d.actions.record(executed.action_id)
        key = stored.idempotency_key if stored else executed.action_id
        await self.reserve(case.id, user, group, int(days), key)
        await self.confirm(case.id, group, executed.action_id)

    async def cancel_expiry(self, case_id: str) -> None:
        """The case's grants were undone: nothing left to remove."""
        for grant in await self._d.grants.of_case(case_id):
            await self._forget(grant)

    # --- people ------------------------------------------------------------------------
    async def stop(self, ctx: TurnContext, case: Case, group: str, reason: str) -> Grant | None:
        """A human (`ctx.person`, holding the case's conversation) ends the desk's attempts to
        take the case's grant of `group` away, for `reason`: recorded on the case and told
        to on call. The grant as it was, or None if the case holds none."""
        grant = await self._d.grants.find(case.id, group)
        if grant is None:
            return None
        await self._expiry.stopped(ctx, case, grant, reason)
        await self._forget(grant)
        log.info("access.stopped", case=case.id, group=group, by=ctx.person.username)
        return grant

    async def past_due(self) -> list[Grant]:
        """Grants still held after their end, oldest first (flagged or not yet)."""
        now = self._d.clock.now()
        return sorted((g for g in await self._d.grants.all() if g.until <= now),
                      key=lambda g: g.until)  # fmt: skip

    async def until_text(self, user: str, group: str) -> str | None:
        grant = await self._d.grants.get(user, group)
        return None if grant is None else _day(grant.until)

    # --- jobs --------------------------------------------------------------------------
    async def _on_warn(self, job: Job) -> None:
        d = self._d
        grant = await d.grants.get(job.payload["user"], job.payload["group"])
        if grant is None or grant.case != job.payload["case"] or not grant.confirmed:
            return
        group = await d.directory.group(grant.group)
        if group is None:
            return
        async with d.system.on_case(job, grant.case) as (ctx, case):
            if case is not None:
                said = texts.say("access.ends_soon", group=group.name, until=_day(grant.until))
                ctx.send(requester_address(case), ctx.text_reply(said))

    async def _on_expire(self, job: Job) -> None:
        attempt = await self._attempt(job, job.payload)
        if attempt.outcome is Outcome.FAILED:
            raise RetryLater(attempt.error or "removal not confirmed")

    async def _on_overdue(self, job: Job) -> None:
        """At the overdue bound: one more attempt, which flags the grant if it fails (the
        expiry job goes on retrying)."""
        await self._attempt(job, job.payload)

    async def _on_sweep(self, job: Job) -> None:
        """Reconcile: a grant past its end whose removal job was lost is tried here and gets
        its job back. A grant whose job is pending or running is that job's to remove: the
        sweep neither races nor cancels it."""
        d = self._d
        now = d.clock.now()
        for grant in await d.grants.all():
            waiting = grant.flag == "unconfirmed" and not grant.confirmed
            if grant.until > now or waiting or await d.scheduler.has(_job_id(EXPIRE, grant)):
                continue
            try:
                await self._attempt(job, _payload(grant))
            except Exception:  # one grant's trouble must not keep the others
                log.exception("access.sweep_failed", case=grant.case, group=grant.group)
        if await d.grants.all():
            await d.scheduler.schedule(SWEEP, now + SWEEP_EVERY, {}, job_id=SWEEP_ID)

    async def _attempt(self, job: Job, payload: dict[str, str]) -> Attempt:
        """One attempt on a grant, then the jobs it leaves: none once it ended, else a
        removal job (and the overdue check) still there."""
        case_id, group = payload["case"], payload["group"]
        attempt = await self._expiry.attempt(job, case_id, payload["user"], group)
        if attempt.outcome is Outcome.ENDED:
            await self._drop_jobs(case_id, group, keep=job.id)
        elif attempt.outcome is Outcome.FAILED and attempt.grant is not None:
            await self._keep_trying(attempt.grant)
        return attempt

    async def _keep_trying(self, grant: Grant) -> None:
        d = self._d
        now = d.clock.now()
        expire = _job_id(EXPIRE, grant)
        # a removal job lost (the sweep found the grant on its own) is queued again
        await d.scheduler.schedule(EXPIRE, now + REMOVAL_RETRY.delay(1, expire), _payload(grant),
                                   job_id=expire, if_absent=True)  # fmt: skip
        check, due = _job_id(OVERDUE, grant), grant.until + d.overdue
        if grant.flag is None and due > now:
            await d.scheduler.schedule(OVERDUE, due, _payload(grant), job_id=check, if_absent=True)

    async def _ensure_jobs(self, grant: Grant) -> None:
        """The grant's warning, removal and the sweep, each scheduled unless it already is
        (scheduling again would reset a removal's backoff)."""
        s, now = self._d.scheduler, self._d.clock.now()
        warn, expire = _job_id(WARN, grant), _job_id(EXPIRE, grant)
        if grant.until - WARN_BEFORE > now:
            await s.schedule(WARN, grant.until - WARN_BEFORE, _payload(grant), job_id=warn,
                             if_absent=True)  # fmt: skip
        await s.schedule(EXPIRE, grant.until, _payload(grant), job_id=expire, if_absent=True)
        await s.schedule(SWEEP, now + SWEEP_EVERY, {}, job_id=SWEEP_ID, if_absent=True)

    async def _forget(self, grant: Grant) -> None:
        """Drop a grant and its jobs; a grant it had set aside comes back with its own."""
        d = self._d
        await self._drop_jobs(grant.case, grant.group)
        if grant.supersedes is not None:
            await d.grants.put(grant.supersedes)
            await self._ensure_jobs(grant.supersedes)
        else:
            await d.grants.remove(grant.user, grant.group)

    async def _drop_jobs(self, case_id: str, group: str, *, keep: str | None = None) -> None:
        """Cancel a grant's jobs but `keep` (the one running: it settles itself)."""
        for kind in (WARN, EXPIRE, OVERDUE):
            job_id = f"{kind.replace('.', '-')}:{case_id}:{group}"
            if job_id != keep:
                await self._d.scheduler.cancel(job_id)


def _grants(steps: Sequence[PlanStep]) -> list[tuple[int, tuple[str, str, int]]]:
    """The time-bound adds among a plan's steps: (index, (user, group, days))."""
    return [
        (index, (str(step.params["user"]), str(step.params["group"]), int(step.params["days"])))
        for index, step in enumerate(steps)
        if step.skill == "add_to_group" and step.params.get("days")
    ]


def _job_id(kind: str, grant: Grant) -> str:
    return f"{kind.replace('.', '-')}:{grant.case}:{grant.group}"


def _payload(grant: Grant) -> dict[str, str]:
    return {"case": grant.case, "user": grant.user, "group": grant.group}


def _day(until: datetime) -> str:
    return until.strftime("%a %d %b %Y")
