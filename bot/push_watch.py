"""Watching a push at its provider: Okta Verify and Duo do not tell the desk when a push is
answered, so the desk reads the answer (`StepUp.answer_push`) every `WATCH_EVERY` until it
is approved, denied or expired, and goes on with the case as the click of a front end
would. The job ends once the answer is judged, or the check no longer belongs to a case
waiting for it (answered from another front end, superseded, the case moved on)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cases import CaseStatus
from bot.gates import Gates
from bot.scheduler import Job, RetryLater, RetryPolicy, Scheduler
from bot.systemturns import SystemTurns
from bot.verifying import WATCH_EVERY, WATCH_PUSH
from verification.stepup import CheckOutcome, StepUp

# read again every WATCH_EVERY while the push waits; never given up on by the scheduler (a
# push expires at its provider, and that answer ends the job)
WATCH_RETRY = RetryPolicy(backoff=WATCH_EVERY, max_backoff=WATCH_EVERY, max_attempts=None)


@dataclass(frozen=True)
class PushWatchDeps:
    scheduler: Scheduler
    stepup: StepUp
    system: SystemTurns
    gates: Gates


class PushWatch:
    def __init__(self, deps: PushWatchDeps) -> None:
        self._d = deps
        deps.scheduler.register(WATCH_PUSH, self._on_watch, retry=WATCH_RETRY)

    async def _on_watch(self, job: Job) -> None:
        d = self._d
        case_id, check_id = str(job.payload["case"]), str(job.payload["check"])
        async with d.system.on_case(job, case_id) as (ctx, case):
            if case is None or case.status != CaseStatus.VERIFYING:
                return
            result = await d.stepup.answer_push(ctx.person, check_id)
            if result.outcome == CheckOutcome.WAITING:
                raise RetryLater("the push is not answered yet")
            if result.outcome == CheckOutcome.NO_CHALLENGE or result.case_id != case.id:
                return
            await d.gates.on_check(ctx, case, result)
