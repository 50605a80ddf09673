"""The approval gate: who must say yes (the approver kind policy names, resolved to people),
the card each of them gets, and an approver's click checked server-side. An approval
records who said yes; the gates then ask policy again."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.approvals import Approvals
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.handoff import Handoff
from bot.models import Address
from bot.plans import Plan, step_label, subject_of, verification_of
from bot.policy import Decision
from bot.ports import Directory
from bot.state.approvals import ApprovalStatus


@dataclass(frozen=True)
class ApprovalGateDeps:
    approvals: Approvals
    directory: Directory
    handoff: Handoff
    clock: Clock


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
                checked=[texts.NO_APPROVER],
            )
        requester = await d.directory.person(case.requester)
        who = requester.name if requester else case.requester
        approval, cards = await d.approvals.open(
            case_id=case.id,
            requester=case.requester,
            kind=kind,
            approvers=approvers,
            title=f"Approval needed: {who}",
            fields=await self._fields(case, plan),
        )
        case = await ctx.record(
            case,
            "approval.requested",
            actor="desk",
            status=CaseStatus.AWAITING_APPROVAL,
            data={
                "approval": approval.id,
                "kind": kind,
                "approvers": approvers,
                "policies": list(decision.policy_ids),
            },
        )
        for approver, reply in cards:
            ctx.send(Address.dm(approver), reply)
        names = [p.name for p in [await d.directory.person(a) for a in approvers] if p]
        ctx.tell(case, texts.approval_requested(_join(names)))
        return case

    async def approvers(self, kind: str, case: Case, plan: Plan) -> list[str]:
        """The people who may approve, never the requester: when the approver would be the
        requester, the request goes to the requester's manager."""
        d = self._d
        requester = await d.directory.person(case.requester)
        subject = await d.directory.person(plan.subject) or subject_of(plan)
        if requester is None:
            return []
        candidates: list[str] = []
        if kind == "group_owner":
            group = await d.directory.group(plan.resource_id)
            owner = group.owner if group and group.owner else requester.manager
            candidates = [owner] if owner else []
        elif kind == "manager":
            candidates = [requester.manager] if requester.manager else []
        elif kind == "subject_manager":
            manager = subject.manager if subject else None
            candidates = [manager] if manager else []
        elif kind in {"hr", "security"}:
            candidates = [
                p.username for p in await d.directory.people() if kind in p.roles and not p.disabled
            ]
        elif kind == "oncall":
            candidates = await d.handoff.oncall_people()
        # nobody approves their own request, and a disabled account approves nothing (a
        # leaver's cards would wait unseen until they expire): either way, one level up
        approvers = [c for c in candidates if c != requester.username and await self._active(c)]
        up = requester.manager
        if not approvers and candidates and up and up != requester.username:
            approvers = [up] if await self._active(up) else []
        return approvers

    async def _active(self, username: str) -> bool:
        person = await self._d.directory.person(username)
        return person is not None and not person.disabled

    async def _fields(self, case: Case, plan: Plan) -> list[tuple[str, str]]:
        requester = await self._d.directory.person(case.requester)
        what = ", ".join(step_label(s.skill, s.params) for s in plan.steps)
        risk = (
            "High"
            if plan.action in {"disable_account", "reset_mfa", "create_account"}
            else ("Medium" if plan.action in {"add_to_group", "install_software"} else "Low")
        )
        fields = [
            ("Requester", f"{requester.name}, {requester.title}" if requester else case.requester),
            ("Asks for", what),
            ("Reason given", case.text[:300]),
            ("Risk", risk),
        ]
        if plan.action == "add_to_group":
            days = plan.steps[0].params.get("days")
            fields.append(("Duration", f"{days} days" if days else "permanent"))
        if verification_of(case):
            fields.append(("Identity", "verified by a sign-in check"))
        return fields

    async def decide(
        self, ctx: TurnContext, case: Case, approval_id: str, approve: bool
    ) -> tuple[Case, bool]:
        """An approver's Approve or Deny: the case as it now is, and whether it was approved
        (then the caller asks policy again)."""
        d = self._d
        approval = await d.approvals.get(approval_id)
        if approval is None:
            ctx.say(texts.BUTTON_UNKNOWN)
            return case, False
        if approval.status != "pending":
            decider = await d.directory.person(approval.decided_by or "")
            ctx.say(texts.already_decided(approval.status, decider.name if decider else None))
            return case, False
        if ctx.person.username == approval.requester:
            ctx.say(texts.NO_SELF_APPROVAL)
            return case, False
        if ctx.person.username not in approval.approvers:
            ctx.say(texts.BUTTON_NOT_YOURS)
            return case, False
        if d.clock.now() >= approval.expires_at:
            ctx.say(texts.BUTTON_EXPIRED)
            return case, False
        status: ApprovalStatus = "approved" if approve else "denied"
        approval = await d.approvals.decide(approval, status, ctx.person.username, d.clock.now())
        for to, reply in d.approvals.updates(approval, ctx.person.name):
            ctx.update(to, reply)
        if not approve:
            case = await ctx.record(
                case,
                "denied",
                status=CaseStatus.REFUSED,
                data={"approval": approval.id, "kind": approval.kind},
            )
            ctx.tell(case, texts.approval_denied(ctx.person.name))
            return case, False
        case = await ctx.record(
            case, "approved", data={"approval": approval.id, "kind": approval.kind}
        )
        ctx.tell(case, texts.approval_approved(ctx.person.name))
        return case, True


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
