"""The step-up gate: an out-of-band check sent to the requester's strongest registered factor
before policy lets the desk act, and what each answer to it means for the case. A pass
records the verification; the gates then ask policy again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot import texts
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.events import StepUpFailed, StepUpLockedOut, StepUpSent, Verified
from bot.handoff import Handoff
from bot.models import Person
from bot.notices import Notices
from bot.policy import PolicyEngine, questions
from bot.ports import Directory
from bot.scheduler import Scheduler
from verification.stepup import (
    CheckCounts,
    CheckOutcome,
    CheckResult,
    LockedOut,
    NoFactor,
    StepUp,
    Throttled,
)


class PolicyCheckLimits:
    """The step-up limits as policy decides them (`send_check`, policies/90-*)."""

    def __init__(self, policy: PolicyEngine) -> None:
        self._policy = policy

    def refuses(self, person: Person, counts: CheckCounts) -> str | None:
        answer = self._policy.ask(
            questions.send_check(
                person,
                pushes_last_hour=counts.pushes_last_hour,
                codes_last_hour=counts.codes_last_hour,
                credential_changes_last_day=counts.credential_changes_last_day,
                failures_in_row=counts.failures_in_row,
            )
        )
        return None if answer.allowed else (answer.reason or "not_allowed")


# The job that reads a push's answer from a provider that cannot tell the desk itself
# (Okta Verify, Duo): `bot.push_watch` runs it until the push is answered or expires.
WATCH_PUSH = "stepup.watch"
WATCH_EVERY = timedelta(seconds=2)


@dataclass(frozen=True)
class StepUpGateDeps:
    stepup: StepUp
    directory: Directory
    handoff: Handoff
    notices: Notices
    # Given, every push sent is watched at its provider; without it the answer comes as a
    # `CHECK_ANSWERED` click from a front end (the sandbox phone).
    scheduler: Scheduler | None = None


class StepUpGate:
    def __init__(self, deps: StepUpGateDeps) -> None:
        self._d = deps

    async def start(self, ctx: TurnContext, case: Case) -> Case:
        """Send a check for the case; the case waits in `verifying`. A person the desk cannot
        check (no factor, too many checks) goes to a human."""
        d = self._d
        requester = await d.directory.person(case.requester)
        assert requester is not None
        try:
            challenge = await d.stepup.challenge(requester, case.id)
        except (Throttled, NoFactor, LockedOut) as exc:
            text = (
                texts.say("step_up.throttled")
                if isinstance(exc, Throttled)
                else texts.say("step_up.no_factor")
            )
            plan = case.plan()
            return await d.handoff.escalate(
                ctx,
                case,
                queue="accounts",
                priority="high",
                summary=plan.summary if plan else case.text,
                checked=[text],
            )
        status = CaseStatus.VERIFYING if case.status != CaseStatus.VERIFYING else None
        sent = StepUpSent(factor=challenge.factor, challenge=challenge.id)
        case = await ctx.record(case, sent, actor="desk", status=status)
        if challenge.kind == "push":
            where = texts.say("step_up.push_where", address=challenge.address)
            if challenge.number is not None:
                ctx.tell(case, texts.say("step_up.push_number", address=where,
                                         number=challenge.number))  # fmt: skip
            else:
                ctx.tell(case, texts.say("step_up.push", address=where))
            await self._watch(case, challenge.id, challenge.check_id)
        else:
            ctx.tell(case, texts.say("step_up.code", address=challenge.address))
        return case

    async def _watch(self, case: Case, challenge_id: str, check_id: str | None) -> None:
        scheduler = self._d.scheduler
        if scheduler is None or check_id is None:
            return
        due = self._d.stepup.now() + WATCH_EVERY
        await scheduler.schedule(WATCH_PUSH, due, {"case": case.id, "check": check_id},
                                 job_id=f"watch:{challenge_id}", if_absent=True)  # fmt: skip

    async def judge(self, ctx: TurnContext, case: Case, result: CheckResult) -> tuple[Case, bool]:
        """Act on an answer to the case's check: the case as it now is, and whether the
        person passed (then the caller asks policy again)."""
        outcome = result.outcome
        if outcome == CheckOutcome.PASSED:
            factor = result.challenge.factor if result.challenge else None
            verified = Verified(
                factor=factor, challenge=result.challenge.id if result.challenge else None
            )
            case = await ctx.record(case, verified, actor=case.requester)
            ctx.tell(case, texts.say("step_up.passed"))
            return case, True
        if outcome == CheckOutcome.LOCKED_OUT:
            return await self._locked_out(ctx, case, result), False
        if outcome == CheckOutcome.FAILED:
            failed = StepUpFailed(failures=result.failures_in_row)
            case = await ctx.record(case, failed, actor="desk")
            if (
                result.challenge is not None
                and result.challenge.kind == "code"
                and (result.challenge.status == "pending")
            ):
                ctx.tell(case, texts.say("step_up.code_wrong"))
                return case, False
            ctx.tell(case, texts.say("step_up.failed_retry"))
            return await self.start(ctx, case), False
        if outcome == CheckOutcome.EXPIRED:
            ctx.tell(case, texts.say("step_up.expired"))
            return await self.start(ctx, case), False
        if outcome == CheckOutcome.REPLAYED:
            ctx.say(texts.say("button.used"))
            return case, False
        if outcome == CheckOutcome.WAITING:
            ctx.say(texts.say("step_up.waiting"))
            return case, False
        ctx.say(texts.say("step_up.none"))
        return case, False

    async def _locked_out(self, ctx: TurnContext, case: Case, result: CheckResult) -> Case:
        d = self._d
        locked = StepUpLockedOut(failures=result.failures_in_row)
        case = await ctx.record(case, locked, actor="desk")
        plan = case.plan()
        case = await d.handoff.escalate(
            ctx,
            case,
            queue="accounts",
            priority="high",
            summary=texts.say("step_up.locked_out_summary", summary=plan.summary if plan else ""),
            checked=[texts.say("step_up.locked_out_note")],
            next_step=texts.say("step_up.locked_out_next_step"),
        )
        notice = texts.say("step_up.locked_out_notice")
        await d.notices.tell_role(ctx, "security", case.requester, notice)
        ctx.tell(case, texts.say("step_up.locked_out"))
        return case
