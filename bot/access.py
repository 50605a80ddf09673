"""Time-bound access: a grant ends at the group's `max_days` (or a shorter asked-for time).
Removal is a scheduled job plus a daily reconciliation sweep against the directory, and the
person is told the day before and when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot import texts
from bot.actions import ActionRunner, Executed, Provenance
from bot.cases import Case
from bot.clock import Clock
from bot.context import requester_address
from bot.events import Decided
from bot.plans import PlanStep
from bot.ports import Directory
from bot.scheduler import Job, Scheduler
from bot.state.grants import Grant, GrantRepository
from bot.systemturns import SystemTurns

log = structlog.get_logger("itdesk.access")
WARN_BEFORE = timedelta(days=1)
SWEEP_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class AccessDeps:
    grants: GrantRepository
    scheduler: Scheduler
    actions: ActionRunner
    directory: Directory
    system: SystemTurns
    clock: Clock


class TimeBoundAccess:
    def __init__(self, deps: AccessDeps) -> None:
        self._d = deps

    def register_jobs(self) -> None:
        s = self._d.scheduler
        s.register("access.warn", self._on_warn)
        s.register("access.expire", self._on_expire)
        s.register("access.sweep", self._on_sweep)

    async def schedule_expiry(self, case: Case, executed: Executed) -> None:
        d = self._d
        user, group, days = executed.args["user"], executed.args["group"], executed.args["days"]
        now = d.clock.now()
        until = now + timedelta(days=int(days))
        await d.grants.put(
            Grant(case=case.id, user=user, group=group, until=until, action=executed.action_id)
        )
        payload = {"case": case.id, "user": user, "group": group}
        if until - WARN_BEFORE > now:
            await d.scheduler.schedule(
                "access.warn", until - WARN_BEFORE, payload, job_id=f"access-warn:{case.id}:{group}"
            )
        await d.scheduler.schedule(
            "access.expire", until, payload, job_id=f"access-expire:{case.id}:{group}"
        )
        await d.scheduler.schedule("access.sweep", now + SWEEP_EVERY, {}, job_id="access-sweep")
        log.info("access.granted_until", user=user, group=group, until=until.isoformat())

    async def cancel_expiry(self, case_id: str) -> None:
        d = self._d
        for grant in await d.grants.of_case(case_id):
            await d.grants.remove(grant.user, grant.group)
            await d.scheduler.cancel(f"access-warn:{case_id}:{grant.group}")
            await d.scheduler.cancel(f"access-expire:{case_id}:{grant.group}")

    async def until_text(self, user: str, group: str) -> str | None:
        grant = await self._d.grants.get(user, group)
        return None if grant is None else _when(grant.until)

    async def _on_warn(self, job: Job) -> None:
        d = self._d
        group = await d.directory.group(job.payload["group"])
        until = await self.until_text(job.payload["user"], job.payload["group"])
        if group is None or until is None:
            return
        async with d.system.on_case(job, job.payload["case"]) as (ctx, case):
            if case is not None:
                ctx.send(
                    requester_address(case),
                    ctx.text_reply(texts.say("access.ends_soon", group=group.name, until=until)),
                )

    async def _on_expire(self, job: Job) -> None:
        await self._remove(job.payload["case"], job.payload["user"], job.payload["group"], job)

    async def _remove(self, case_id: str, user: str, group_id: str, job: Job) -> None:
        d = self._d
        async with d.system.on_case(job, case_id) as (ctx, case):
            if case is None:
                return
            why = Provenance(
                requested_by=case.requester,
                approved_by=tuple(case.approvers()),
                policy=(*tuple(_policies(case)), "access.time-bound"),
                verification=case.verification(),
            )
            step = PlanStep(skill="remove_from_group", params={"user": user, "group": group_id})
            await d.actions.run(ctx, case, step, why, key=f"expire:{case.id}:{group_id}")
            await d.grants.remove(user, group_id)
            group = await d.directory.group(group_id)
            ctx.send(
                requester_address(case),
                ctx.text_reply(texts.say("access.ended", group=group.name if group else group_id)),
            )

    async def _on_sweep(self, job: Job) -> None:
        """Reconcile: any grant past its end is removed even if its own job was lost."""
        d = self._d
        now = d.clock.now()
        remaining = 0
        for grant in await d.grants.all():
            if grant.until <= now:
                await d.scheduler.cancel(f"access-expire:{grant.case}:{grant.group}")
                await self._remove(grant.case, grant.user, grant.group, job)
            else:
                remaining += 1
        if remaining:
            await d.scheduler.schedule("access.sweep", now + SWEEP_EVERY, {}, job_id="access-sweep")


def _policies(case: Case) -> list[str]:
    """The policies that let the desk act for the case."""
    for _, decided in reversed(case.all(Decided)):
        if decided.route == "act":
            return list(decided.policies)
    return []


def _when(until: datetime) -> str:
    return until.strftime("%a %d %b %Y")
