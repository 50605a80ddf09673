"""The approval gate: who must say yes (the approver kind policy names, resolved to people),
the card each of them gets, and an approver's click checked server-side. An approval
records who said yes; the gates then ask policy again."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.approvals import Approvals, TooLate, too_late
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import ApprovalRequested, Approved, Denied
from bot.handoff import Handoff
from bot.models import Address, Person
from bot.oncall import OnCall
from bot.plans import Plan
from bot.policy import Decision, PolicyEngine, questions
from bot.ports import Directory
from bot.resources import PlanResources
from bot.state.approvals import Approval, ApprovalStatus
from bot.state.audit import AuditLog
from skills.registry import SkillRegistry

_RISKS = ("low", "medium", "high")


@dataclass(frozen=True)
class ApprovalGateDeps:
    approvals: Approvals
    policy: PolicyEngine
    directory: Directory
    resources: PlanResources
    oncall: OnCall
    handoff: Handoff
    skills: SkillRegistry
    clock: Clock
    audit: AuditLog


class ApprovalGate:
    def __init__(self, deps: ApprovalGateDeps) -> None:
        self._d = deps

    async def request(self, ctx: TurnContext, case: Case, plan: Plan, decision: Decision) -> Case:
        """Send the approval cards policy asks for; the case waits in `awaiting_approval`.
        With nobody to approve, a human takes the case."""
        d = self._d
        kind = decision.approver or "manager"
        approvers = await self.approvers(kind, case, plan)
        if not approvers:
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                summary=plan.summary,
                checked=[texts.say("approval.no_approver")],
            )
        requester = await d.directory.person(case.requester)
        who = requester.name if requester else case.requester
        approval, cards = await d.approvals.open(
            case_id=case.id,
            requester=case.requester,
            kind=kind,
            approvers=approvers,
            title=texts.say("approval.title", who=who),
            fields=await self._fields(case, plan),
        )
        requested = ApprovalRequested(approval=approval.id, kind=kind, approvers=approvers,
                                      policies=list(decision.policy_ids))  # fmt: skip
        case = await ctx.record(case, requested, actor="desk", status=CaseStatus.AWAITING_APPROVAL)
        for approver, reply in cards:
            ctx.send(Address.dm(approver), reply)
        names = [p.name for p in [await d.directory.person(a) for a in approvers] if p]
        ctx.tell(case, texts.say("approval.requested", approvers=_join(names)))
        return case

    async def approvers(self, kind: str, case: Case, plan: Plan) -> list[str]:
        """The people policy lets approve, among the candidates of the approver kind; when
        none of them may, whoever policy lets approve as a fallback (one level up)."""
        d = self._d
        requester = await d.directory.person(case.requester)
        if requester is None:
            return []
        subject = await d.resources.subject(plan)
        relations = await self._relations(kind, requester, subject, plan)
        candidates = [name for name, related in relations.items() if kind in related]
        approvers = [
            c for c in candidates if await self._may_approve(c, requester, kind, relations[c])
        ]
        if approvers or not candidates:
            return approvers
        return [
            name
            for name, related in relations.items()
            if await self._may_approve(name, requester, kind, related, fallback=True)
        ]

    async def _relations(
        self, kind: str, requester: Person, subject: Person | None, plan: Plan
    ) -> dict[str, set[str]]:
        """Who relates to the request how: the group's owner (the requester's manager when
        it has none), the requester's manager, the subject's manager, and the people of the
        kind's role or on call."""
        d = self._d
        related: dict[str, set[str]] = {}

        def add(name: str | None, relation: str) -> None:
            if name:
                related.setdefault(name, set()).add(relation)

        if kind == "group_owner":
            group = await d.directory.group(plan.resource_id)
            add(group.owner if group and group.owner else requester.manager, "group_owner")
        if kind == "subject_manager":
            add(subject.manager if subject else None, "subject_manager")
        if kind in {"hr", "security"}:
            for p in await d.directory.people_with_role(kind):
                add(p.username, kind)
        if kind == "oncall":
            for name in await d.oncall.people():
                add(name, "oncall")
        add(requester.manager, "manager")
        return related

    async def _may_approve(
        self,
        name: str,
        requester: Person,
        kind: str,
        relations: set[str],
        *,
        fallback: bool = False,
    ) -> bool:
        candidate = await self._d.directory.person(name)
        if candidate is None:
            return False
        question = questions.approver(
            candidate, requester, kind=kind, relations=sorted(relations), fallback=fallback
        )
        return self._d.policy.ask(question).allowed

    async def _fields(self, case: Case, plan: Plan) -> list[tuple[str, str]]:
        d = self._d
        requester = await d.directory.person(case.requester)
        what = ", ".join(d.skills.step(s.skill, s.params) for s in plan.steps)
        who = (
            texts.say("approval.requester_value", name=requester.name, title=requester.title)
            if requester
            else case.requester
        )
        risk = await self._risk(requester, plan)
        key = f"approval.risk.{risk}"
        fields = [
            (texts.say("approval.requester_field"), who),
            (texts.say("approval.asks_for_field"), what),
            (texts.say("approval.reason_field"), case.text[:300]),
            (texts.say("approval.risk_field"), texts.say(key) if texts.DESK.has(key) else risk),
        ]
        if plan.action == "add_to_group":
            days = plan.steps[0].params.get("days")
            lasting = (
                texts.say("approval.duration_value", count=days)
                if days
                else texts.say("approval.permanent")
            )
            fields.append((texts.say("approval.duration_field"), lasting))
        if case.verification():
            fields.append(
                (texts.say("approval.identity_field"), texts.say("approval.identity_value"))
            )
        return fields

    async def _risk(self, requester: Person | None, plan: Plan) -> str:
        """The highest risk policy gives the planned action ("low" when none matches)."""
        d = self._d
        resource = await d.resources.resource(plan, await d.resources.subject(plan))
        if requester is None or resource is None:
            return "low"
        answer = d.policy.ask(
            questions.about_skill(
                "rate_risk", requester, resource, skill=plan.action, intent=plan.intent
            )
        )
        rated = answer.labels("risk")
        return max(rated, key=_RISKS.index) if rated else "low"

    async def decide(
        self, ctx: TurnContext, case: Case, approval_id: str, approve: bool
    ) -> tuple[Case, bool]:
        """An approver's Approve or Deny (policy let them press it): the case as it now is,
        and whether it was approved (then the caller asks policy again). A click that
        decides nothing (decided already, expired) is kept in the audit trail with why."""
        d = self._d
        approval = await d.approvals.get(approval_id)
        if approval is None:
            ctx.say(texts.say("button.unknown"))
            return case, False
        if approval.status != "pending":
            await self._too_late(ctx, approval, approve, "already_decided")
            return case, False
        if d.clock.now() >= approval.expires_at:
            await self._too_late(ctx, approval, approve, "expired")
            return case, False
        status: ApprovalStatus = "approved" if approve else "denied"
        approval, won = await d.approvals.decide(
            approval, status, ctx.person.username, d.clock.now()
        )
        if not won:  # the other button, pressed at the same moment, got there first
            await self._too_late(ctx, approval, approve, "already_decided")
            return case, False
        for to, reply in d.approvals.updates(approval, ctx.person.name):
            ctx.update(to, reply)
        if not approve:
            denied = Denied(approval=approval.id, kind=approval.kind)
            case = await ctx.record(case, denied, status=CaseStatus.REFUSED)
            ctx.tell(case, texts.say("approval.denied", name=ctx.person.name))
            return case, False
        case = await ctx.record(case, Approved(approval=approval.id, kind=approval.kind))
        ctx.tell(case, texts.say("approval.approved", name=ctx.person.name))
        return case, True

    async def _too_late(
        self, ctx: TurnContext, approval: Approval, approve: bool, why: TooLate
    ) -> None:
        """Tell the approver their click came too late, and audit it."""
        d = self._d
        record = too_late(
            by=ctx.person.username,
            approval_id=approval.id,
            approve=approve,
            case_id=approval.case_id,
            why=why,
            at=d.clock.now(),
            current=approval,
        )
        await d.audit.append(record)
        if why == "expired":
            ctx.say(texts.say("button.expired"))
            return
        decider = await d.directory.person(approval.decided_by or "")
        ctx.say(texts.already_decided(approval.status, decider.name if decider else None))


def _join(names: list[str]) -> str:
    if len(names) < 2:
        return "".join(names)
    if len(names) == 2:
        return texts.say("approval.both", first=names[0], second=names[1])
    some = texts.say("approval.list_separator").join(names[:-1])
    return texts.say("approval.any_of", some=some, last=names[-1])
