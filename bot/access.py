"""Time-bound access: a grant ends at the group's `max_days` (or a shorter asked-for time).
Removal is a scheduled job plus a daily reconciliation sweep against the directory, and the
person is told the day before and when it ends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from bot import texts
from bot.actions import Executed, Provenance
from bot.cases import Case
from bot.plans import PlanStep, approvers_of, verification_of
from bot.scheduler import Job

if TYPE_CHECKING:
    from bot.desk import Desk

log = structlog.get_logger("itdesk.access")
WARN_BEFORE = timedelta(days=1)
SWEEP_EVERY = timedelta(days=1)


class TimeBoundAccess:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk
        self._grants = desk.store.key("grants")

    def register_jobs(self) -> None:
        s = self._desk.scheduler
        s.register("access.warn", self._on_warn)
        s.register("access.expire", self._on_expire)
        s.register("access.sweep", self._on_sweep)

    async def schedule_expiry(self, case: Case, executed: Executed) -> None:
        d = self._desk
        user, group, days = executed.args["user"], executed.args["group"], executed.args["days"]
        until = d.clock.now() + timedelta(days=int(days))
        grant = {
            "case": case.id,
            "user": user,
            "group": group,
            "until": until.isoformat(),
            "action": executed.action_id,
        }
        await d.store.redis.hset(self._grants, f"{user}:{group}", json.dumps(grant))
        payload = {"case": case.id, "user": user, "group": group}
        if until - WARN_BEFORE > d.clock.now():
            await d.scheduler.schedule(
                "access.warn", until - WARN_BEFORE, payload, job_id=f"access-warn:{case.id}:{group}"
            )
        await d.scheduler.schedule(
            "access.expire", until, payload, job_id=f"access-expire:{case.id}:{group}"
        )
        await d.scheduler.schedule(
            "access.sweep", d.clock.now() + SWEEP_EVERY, {}, job_id="access-sweep"
        )
        log.info("access.granted_until", user=user, group=group, until=until.isoformat())

    async def cancel_expiry(self, case_id: str) -> None:
        d = self._desk
        for field, raw in (await d.store.redis.hgetall(self._grants)).items():
            grant = json.loads(raw)
            if grant["case"] == case_id:
                await d.store.redis.hdel(self._grants, field)
                await d.scheduler.cancel(f"access-warn:{case_id}:{grant['group']}")
                await d.scheduler.cancel(f"access-expire:{case_id}:{grant['group']}")

    async def grants(self) -> list[dict[str, Any]]:
        raw = await self._desk.store.redis.hgetall(self._grants)
        return [json.loads(v) for v in raw.values()]

    async def until_text(self, user: str, group: str) -> str | None:
        raw = await self._desk.store.redis.hget(self._grants, f"{user}:{group}")
        if raw is None:
            return None
        return _when(datetime.fromisoformat(json.loads(raw)["until"]))

    async def _on_warn(self, job: Job) -> None:
        d = self._desk
        group = await d.directory.group(job.payload["group"])
        until = await self.until_text(job.payload["user"], job.payload["group"])
        if group is None or until is None:
            return
        async with d.system_turn(job, job.payload["case"]) as (ctx, case):
            if case is not None:
                ctx.send(
                    d.requester_address(case),
                    ctx.text_reply(texts.access_ends_soon(group.name, until)),
                )

    async def _on_expire(self, job: Job) -> None:
        await self._remove(job.payload["case"], job.payload["user"], job.payload["group"], job)

    async def _remove(self, case_id: str, user: str, group_id: str, job: Job) -> None:
        d = self._desk
        async with d.system_turn(job, case_id) as (ctx, case):
            if case is None:
                return
            why = Provenance(
                requested_by=case.requester,
                approved_by=tuple(approvers_of(case)),
                policy=(*tuple(_policies(case)), "access.time-bound"),
                verification=verification_of(case),
            )
            step = PlanStep(skill="remove_from_group", params={"user": user, "group": group_id})
            await d.actions.run(ctx, case, step, why, key=f"expire:{case.id}:{group_id}")
            await d.store.redis.hdel(self._grants, f"{user}:{group_id}")
            group = await d.directory.group(group_id)
            ctx.send(
                d.requester_address(case),
                ctx.text_reply(texts.access_ended(group.name if group else group_id)),
            )

    async def _on_sweep(self, job: Job) -> None:
        """Reconcile: any grant past its end is removed even if its own job was lost."""
        d = self._desk
        now = d.clock.now()
        remaining = 0
        for grant in await self.grants():
            if datetime.fromisoformat(grant["until"]) <= now:
                await d.scheduler.cancel(f"access-expire:{grant['case']}:{grant['group']}")
                await self._remove(grant["case"], grant["user"], grant["group"], job)
            else:
                remaining += 1
        if remaining:
            await d.scheduler.schedule("access.sweep", now + SWEEP_EVERY, {}, job_id="access-sweep")


def _policies(case: Case) -> list[str]:
    for event in reversed(case.events):
        if event.type == "decided" and event.data.get("route") == "act":
            return list(event.data.get("policies", []))
    return []


def _when(until: datetime) -> str:
    return until.strftime("%a %d %b %Y")
