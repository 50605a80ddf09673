"""Recovery: finishing what a process left half done when it died.

A case enters `executing` only after it is listed as acting (`bot.state.actions`), and each
of its steps writes its intent before it touches a backend. A process killed at any point
leaves the case listed: the sweep (at start, and a minute after a case starts acting) takes
each such case under its conversation's lock (so never one a live turn is working on), and
the acting code
resumes it: steps recorded stand, a step cut short is settled by reading the backend, the
rest run, and the person hears the outcome once. A case whose write's outcome is still
unknown stays listed and is read again at the next sweep, a minute later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from bot.acting import Acting
from bot.actions import RECOVER, RECOVER_AFTER, ActionRunner
from bot.cases import CaseStatus
from bot.clock import Clock
from bot.scheduler import Job, Scheduler
from bot.state.conversations import LockTimeout
from bot.systemturns import SystemTurns

log = structlog.get_logger("itdesk.recovery")
# How long a case is in `executing` before the sweep looks at it: a live turn holds the
# conversation anyway, so this only spares the sweep from queueing behind turns under way.
GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class RecoveryDeps:
    actions: ActionRunner
    acting: Acting
    system: SystemTurns
    scheduler: Scheduler
    clock: Clock


class Recovery:
    def __init__(self, deps: RecoveryDeps) -> None:
        self._d = deps

    def register_jobs(self) -> None:
        self._d.scheduler.register(RECOVER, self._on_sweep)

    async def start(self) -> None:
        """Sweep now: a process starting may follow one that died."""
        await self._d.scheduler.schedule(RECOVER, self._d.clock.now(), {}, job_id=RECOVER)

    async def sweep(self, job: Job) -> int:
        """Resume every case left in `executing`; how many were taken up."""
        d = self._d
        resumed = 0
        for case_id in await d.actions.left_acting(d.clock.now() - GRACE):
            try:
                async with d.system.on_case(job, case_id) as (ctx, case):
                    if case is None or case.status != CaseStatus.EXECUTING:
                        await d.actions.acted(case_id)
                        continue
                    await d.acting.resume(ctx, case)
                    resumed += 1
            except LockTimeout:
                log.info("recovery.busy", case=case_id)  # a turn is at it: next sweep
            except Exception:
                log.exception("recovery.failed", case=case_id)  # the others still go
        for intent in await d.actions.undos_left(d.clock.now() - GRACE):
            try:
                async with d.system.on_case(job, intent.case_id) as (ctx, case):
                    if case is not None:
                        await d.acting.settle_undo(ctx, case, intent)
                        resumed += 1
            except LockTimeout:
                log.info("recovery.busy", case=intent.case_id)
            except Exception:
                log.exception("recovery.failed", case=intent.case_id)
        return resumed

    async def _on_sweep(self, job: Job) -> None:
        """Sweep, and again a minute later while any case is still in `executing`."""
        d = self._d
        try:
            await self.sweep(job)
        finally:
            now = d.clock.now()
            later = now + RECOVER_AFTER
            if await d.actions.left_acting(later) or await d.actions.undos_left(later):
                await d.scheduler.schedule(RECOVER, now + RECOVER_AFTER, {}, job_id=RECOVER)
