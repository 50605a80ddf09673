"""Acting on a plan policy allowed: its steps run as a saga (grants reserved before it), then
what follows them (`bot.results`: notices, the status card with Undo) or a handoff; a write
whose outcome is unknown waits as "checking"; a case a dead process left is resumed. Also
the reversal of an earlier action once policy allowed it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot import texts
from bot.access import TimeBoundAccess
from bot.actions import ActionRunner, Provenance, SagaFailed
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import Checking, Executing, Refused, Resolved, Resumed
from bot.handoff import Handoff, next_step_for
from bot.notices import Notices
from bot.outcomes import StillChecking, Unverifiable
from bot.plans import Plan, PlanStep
from bot.policy import Decision
from bot.ports import Directory
from bot.results import ActingResults, strip_undo
from bot.routing import Routing
from bot.state.actions import ActionIntent, StoredAction
from skills.base import PreconditionFailed, missing_capability
from skills.registry import SkillRegistry

log = structlog.get_logger("itdesk.acting")
CHECK_FOR = timedelta(minutes=15)  # how long an unknown outcome is read for before a human


@dataclass(frozen=True)
class ActingDeps:
    actions: ActionRunner
    access: TimeBoundAccess
    results: ActingResults
    routing: Routing
    directory: Directory
    handoff: Handoff
    notices: Notices
    skills: SkillRegistry
    clock: Clock


class Acting:
    def __init__(self, deps: ActingDeps) -> None:
        self._d = deps

    async def act(self, ctx: TurnContext, case: Case, plan: Plan, decision: Decision) -> Case:
        d = self._d
        if case.status != CaseStatus.EXECUTING:
            await d.actions.acting(case.id)
            began = Executing(event_id=ctx.turn.event_id)
            case = await ctx.record(case, began, actor="desk", status=CaseStatus.EXECUTING)
        case = await self._act(ctx, case, plan, decision)
        if case.status != CaseStatus.EXECUTING:
            await d.actions.acted(case.id)
        return case

    async def resume(self, ctx: TurnContext, case: Case) -> Case:
        """Finish a case a process left in `executing` when it died: the steps already
        recorded stand, a step cut short is settled by reading the backend, the rest run;
        the person hears the outcome once."""
        plan = case.plan()
        if plan is None or case.status != CaseStatus.EXECUTING:
            return case
        log.warning("acting.resumed", case=case.id)
        case = await ctx.record(case, Resumed(), actor="desk")
        return await self.act(
            ctx, case, plan, Decision(route="act", policy_ids=case.acting_policies())
        )

    async def settle_undo(self, ctx: TurnContext, case: Case, intent: ActionIntent) -> Case:
        """Finish an Undo a dead process began: its step settled by reading the backend
        (`ActionRunner.run` under the intent's key), then what an Undo does after it."""
        d = self._d
        step = PlanStep(skill=intent.skill, params=intent.params)
        why = provenance(case, case.acting_policies())
        case, _ = await d.actions.run(ctx, case, step, why, key=intent.key, undo_of=intent.undo_of,
                                      keep_open=True)  # fmt: skip
        await d.access.cancel_expiry(case.id)
        strip_undo(ctx, case)
        ctx.tell(case, texts.say("result.undo_done"))
        if intent.undo_of:
            await d.actions.finished_undo(intent.undo_of)
        return case

    async def _act(self, ctx: TurnContext, case: Case, plan: Plan, decision: Decision) -> Case:
        d = self._d
        why = provenance(case, decision.policy_ids)
        await d.access.reserve_steps(case.id, plan.steps)  # before any grant exists
        try:
            case, done = await d.actions.run_saga(ctx, case, plan.steps, why)
        except StillChecking as exc:
            return await self._checking(ctx, case, plan, exc)
        except SagaFailed as exc:
            await d.access.settle_steps(case.id, plan.steps)
            capability = missing_capability(exc.cause)
            if capability is not None:
                return await self._unsupported(ctx, case, plan, exc, capability)
            # a request that cannot be done as asked is refused, if nothing was done for it
            # yet; half-way through, a human looks at what the saga did and undid
            if isinstance(exc.cause, PreconditionFailed) and not (exc.compensated or exc.left):
                refused = Refused(reason=exc.cause.text_key)
                case = await ctx.record(case, refused, actor="desk", status=CaseStatus.REFUSED)
                ctx.tell(case, texts.refusal(exc.cause.text_key))
                return case
            log.warning("action.failed", case=case.id, step=exc.step, error=str(exc.cause))
            unconfirmed = isinstance(exc.cause, Unverifiable)
            said = texts.say("result.unconfirmed") if unconfirmed else None
            ctx.tell(case, said or texts.say("result.action_failed"))
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                priority="high",
                summary=plan.summary,
                checked=[
                    texts.say("note.step_failed", step=exc.step, error=str(exc.cause)[:200]),
                    *_compensation(exc),
                ],
                next_step=next_step_for(plan.queue),
            )
        # only a grant the desk made ends on its own: a membership the person already had
        # (the add changed nothing) is not the desk's to take away
        await d.access.settle_steps(case.id, plan.steps)
        ends = await d.results.ends(case, plan, done)
        try:
            await d.results.after(ctx, case, plan, done, ends)
        except Exception:
            # The actions ran and are recorded; a failed notice or schedule must not leave the
            # case stuck in "executing". The log names it for an operator.
            log.exception("after_actions.failed", case=case.id)
        handover = next((f for f in ends.follow_ups if f.escalate), None)
        if handover is not None and handover.escalate is not None:
            checked = [
                texts.say("note.step_done", step=d.skills.step(e.skill, e.args)) for e in done
            ]
            return await d.handoff.escalate(
                ctx,
                case,
                queue=handover.escalate,
                priority=handover.priority,
                summary=plan.summary,
                checked=checked,
                next_step=next_step_for(handover.escalate),
            )
        case = await ctx.record(case, Resolved(), actor="desk", status=CaseStatus.RESOLVED)
        await d.results.status_card(ctx, case, done, ends.undo_hours)
        return case

    async def _unsupported(
        self, ctx: TurnContext, case: Case, plan: Plan, exc: SagaFailed, capability: str
    ) -> Case:
        """The backend cannot do a step at all: the request is fine (no refusal) and a retry
        will not help (no failure), so a technician does it by hand, told what is missing,
        routed as policy routes any handover (a lost device still reaches security at once)."""
        d = self._d
        ctx.tell(case, texts.unsupported(capability))
        requester = await d.directory.person(case.requester)
        handover = (
            d.routing.hand_over(requester, intent=plan.intent, queue=plan.queue, sure=True,
                                confidence=1.0)
            if requester is not None
            else None
        )  # fmt: skip
        queue = handover.queue if handover else plan.queue
        case = await d.handoff.escalate(
            ctx,
            case,
            queue=queue,
            priority=handover.priority if handover else "normal",
            summary=plan.summary,
            checked=[
                texts.say("note.not_supported", step=exc.step, capability=capability),
                *_compensation(exc),
            ],
            next_step=next_step_for(queue),
        )
        for role in handover.notify if handover else ():
            what = texts.say("note.role_notice", intent=plan.intent, summary=plan.summary)
            await d.notices.tell_role(ctx, role, case.requester, what)
        return case

    async def action(self, action_id: str) -> StoredAction | None:
        """An executed action's record, by its id."""
        return await self._d.actions.record(action_id)

    async def undo(self, ctx: TurnContext, case: Case, action_id: str, decision: Decision) -> Case:
        """Reverse an executed action of the case, as policy allowed."""
        d = self._d
        case, _ = await d.actions.undo(ctx, case, action_id, provenance(case, decision.policy_ids))
        await d.access.cancel_expiry(case.id)
        strip_undo(ctx, case)
        ctx.say(texts.say("result.undo_done"))
        await d.actions.finished_undo(action_id)
        return case

    async def _checking(self, ctx: TurnContext, case: Case, plan: Plan, exc: StillChecking) -> Case:
        """A write's outcome is unknown and the backend cannot be read yet: the person hears
        "checking" (once) and the case waits for recovery to read again; past `CHECK_FOR` a
        human takes it, told what is known."""
        d = self._d
        if d.clock.now() - exc.intent.at >= CHECK_FOR:
            ctx.tell(case, texts.say("result.unconfirmed"))
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                priority="high",
                summary=plan.summary,
                checked=[texts.say("note.outcome_unknown", step=d.skills.step(exc.skill,
                         exc.intent.params), error=exc.intent.error or "", since=_hhmm(
                         exc.intent.at))],
                next_step=next_step_for(plan.queue),
            )  # fmt: skip
        if case.last(Checking) is None:
            ctx.tell(case, texts.say("result.checking"))
            case = await ctx.record(
                case, Checking(skill=exc.skill, error=exc.intent.error or ""), actor="desk"
            )
        return case


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


def _compensation(exc: SagaFailed) -> list[str]:
    """What a failed saga undid, and what it left in effect for a human to check."""
    return [
        *(texts.say("note.undid", step=s) for s in exc.compensated),
        *(texts.say("note.left", step=s) for s in exc.left),
    ]


def provenance(case: Case, policy: tuple[str, ...]) -> Provenance:
    """Why an action of the case may run: its requester, approvers and verification."""
    return Provenance(
        requested_by=case.requester,
        approved_by=tuple(case.approvers()),
        policy=policy,
        verification=case.verification(),
    )
