"""The gates between a plan and its action. At each gate the desk asks policy again and
follows the route it gives: refuse, escalate, step-up, approval, or act. A gate that passes
(the person verified, an approver said yes) comes back here for the next question."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.acting import Acting
from bot.approving import ApprovalGate
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.events import Executing, Refused
from bot.handoff import Handoff, next_step_for
from bot.plans import Plan
from bot.policy import Decision, PolicyEngine, PolicyRequest
from bot.ports import Directory
from bot.resources import PlanResources
from bot.results import strip_undo
from bot.state.control import DeskControl
from bot.verifying import StepUpGate
from skills.registry import SkillRegistry
from verification.stepup import CheckResult


@dataclass(frozen=True)
class GateDeps:
    policy: PolicyEngine
    directory: Directory
    resources: PlanResources
    control: DeskControl
    stepup: StepUpGate
    approval: ApprovalGate
    acting: Acting
    handoff: Handoff
    skills: SkillRegistry


class Gates:
    def __init__(self, deps: GateDeps) -> None:
        self._d = deps

    # --- policy ---------------------------------------------------------------------
    async def decide(
        self, case: Case, plan: Plan, action: str | None = None, *, undo: bool = False
    ) -> Decision | None:
        d = self._d
        requester = await d.directory.person(case.requester)
        subject = await d.resources.subject(plan)
        resource = await d.resources.resource(plan, subject)
        if requester is None or subject is None or resource is None:
            return None
        paused, mode = await d.control.switches(plan.queue)
        return d.policy.decide(
            PolicyRequest(
                principal=requester,
                action=action or plan.action,
                resource=resource,
                subject=subject,
                intent=plan.intent,
                queue=plan.queue,
                verified=case.verification() is not None,
                approvals=case.approvals(),
                paused=paused,
                mode=mode,
                credentials_exposed=plan.credentials_exposed,
                catalogued=plan.catalogued,
                undo=undo,
            )
        )

    # --- the loop -------------------------------------------------------------------
    async def proceed(self, ctx: TurnContext, case: Case) -> Case:
        """Ask policy and follow the route; called after planning and after every gate."""
        d = self._d
        plan = case.plan()
        if plan is None:
            return case
        decision = await self.decide(case, plan)
        if decision is None:
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                summary=plan.summary,
                checked=[texts.say("note.not_found")],
            )
        case = await ctx.record(case, decision.event(), actor="desk")
        if decision.route == "refuse":
            case = await ctx.record(
                case, Refused(reason=decision.reason), actor="desk", status=CaseStatus.REFUSED
            )
            ctx.tell(case, texts.refusal(decision.reason))
            return case
        if decision.route == "escalate":
            return await d.handoff.escalate(
                ctx,
                case,
                queue=decision.queue or plan.queue,
                priority=decision.priority or "normal",
                summary=plan.summary,
                checked=[texts.say("note.policy", policies=", ".join(decision.policy_ids))],
                next_step=next_step_for(plan.queue),
            )
        if decision.route == "step_up":
            return await d.stepup.start(ctx, case)
        if decision.route == "approval":
            return await d.approval.request(ctx, case, plan, decision)
        return await d.acting.act(ctx, case, plan, decision)

    async def resume_left(self, ctx: TurnContext, case: Case) -> bool:
        """Finish a case a dead process left acting (`bot.acting.Acting.resume`), found by a
        turn that holds its conversation (so no live turn is at it). True when the acting
        was this very turn's work: the platform delivered it again after the process died,
        and finishing the case is all there is left to do for it."""
        if case.status != CaseStatus.EXECUTING:
            return False
        began = case.last(Executing)
        await self._d.acting.resume(ctx, case)
        return began is not None and began.event_id == ctx.turn.event_id

    async def on_check(self, ctx: TurnContext, case: Case, result: CheckResult) -> Case:
        """An answer to the case's step-up check."""
        case, passed = await self._d.stepup.judge(ctx, case, result)
        return await self.proceed(ctx, case) if passed else case

    async def on_decision(
        self, ctx: TurnContext, case: Case, approval_id: str, approve: bool
    ) -> Case:
        """An approver's click on the case's approval card."""
        case, approved = await self._d.approval.decide(ctx, case, approval_id, approve)
        return await self.proceed(ctx, case) if approved else case

    async def on_undo(self, ctx: TurnContext, case: Case, action_id: str) -> Case:
        """The requester's Undo: the reversal is asked of policy like any other action."""
        d = self._d
        record = await d.acting.action(action_id)
        if record is None or not record.inverse:
            ctx.say(texts.say("result.undo_expired"))
            return case
        plan = case.plan()
        decision = await self.decide(case, plan, action=record.inverse, undo=True) if plan else None
        if decision is not None and decision.route == "escalate" and plan is not None:
            # policy wants a human for the reversal (paused, a privileged account...): hand it
            # over with what to undo rather than leave the person with a dead button
            strip_undo(ctx, case)
            return await d.handoff.escalate(
                ctx,
                case,
                queue=decision.queue or plan.queue,
                priority=decision.priority or "normal",
                summary=texts.say(
                    "note.undo_requested", step=d.skills.step(record.skill, record.args)
                ),
                checked=[texts.say("note.policy", policies=", ".join(decision.policy_ids))],
            )
        if decision is None or decision.route != "act":
            ctx.say(texts.refusal(decision.reason if decision else None))
            return case
        return await d.acting.undo(ctx, case, action_id, decision)
