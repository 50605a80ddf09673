"""The gates between a plan and its action. At each gate the desk asks policy again and
follows the route it gives: refuse, escalate, step-up, approval, or act."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from bot import texts
from bot.actions import Executed, Provenance, SagaFailed
from bot.approvals import ApprovalStatus
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.models import Address, Button, Card, CardField, Device, Group, Person, Reply, SoftwareItem
from bot.plans import Plan, approvals_of, approvers_of, plan_of, subject_of, verification_of
from bot.policy import Decision, PolicyRequest, Resource
from skills.base import PreconditionFailed, missing_capability
from verification.notify import notify_change
from verification.stepup import CheckOutcome, CheckResult, LockedOut, NoFactor, Throttled

if TYPE_CHECKING:
    from bot.desk import Desk

log = structlog.get_logger("itdesk.gates")
UNDO_WINDOW = timedelta(hours=24)
CREDENTIAL_SKILLS = {
    "reset_password": "a password reset",
    "reset_mfa": "an MFA reset",
    "unlock_account": "an account unlock",
}


class Gates:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    # --- policy ---------------------------------------------------------------------
    async def decide(
        self, case: Case, plan: Plan, action: str | None = None, *, undo: bool = False
    ) -> Decision | None:
        d = self._desk
        requester = await d.directory.person(case.requester)
        subject = await d.directory.person(plan.subject) or subject_of(plan)
        resource = await self._resource(plan, subject)
        if requester is None or subject is None or resource is None:
            return None
        return d.policy.decide(
            PolicyRequest(
                principal=requester,
                action=action or plan.action,
                resource=resource,
                subject=subject,
                intent=plan.intent,
                queue=plan.queue,
                verified=verification_of(case) is not None,
                approvals=approvals_of(case),
                paused=await d.control.paused(),
                mode=await d.control.mode(plan.queue),
                credentials_exposed=plan.credentials_exposed,
                catalogued=plan.catalogued,
                undo=undo,
            )
        )

    async def _resource(self, plan: Plan, subject: Person | None) -> Resource | None:
        d = self._desk
        if plan.resource_kind == "person":
            return (
                subject
                if plan.resource_id == plan.subject
                else await d.directory.person(plan.resource_id)
            )
        if plan.resource_kind == "group":
            group: Group | None = await d.directory.group(plan.resource_id)
            return group
        if plan.resource_kind == "device":
            device: Device | None = await d.devices.device(plan.resource_id)
            return device
        return await d.devices.software(plan.resource_id) or SoftwareItem(
            id=plan.resource_id, name=plan.resource_id
        )

    # --- the loop -------------------------------------------------------------------
    async def proceed(self, ctx: TurnContext, case: Case) -> Case:
        """Ask policy and follow the route; called after planning and after every gate."""
        d = self._desk
        plan = plan_of(case)
        if plan is None:
            return case
        decision = await self.decide(case, plan)
        if decision is None:
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                summary=plan.summary,
                checked=["the person or target was not found"],
            )
        case = await ctx.record(case, "decided", actor="desk", data=decision.as_record())
        if decision.route == "refuse":
            case = await ctx.record(
                case,
                "refused",
                actor="desk",
                status=CaseStatus.REFUSED,
                data={"reason": decision.reason},
            )
            self.tell(ctx, case, texts.refusal(decision.reason))
            return case
        if decision.route == "escalate":
            return await d.handoff.escalate(
                ctx,
                case,
                queue=decision.queue or plan.queue,
                priority=decision.priority or "normal",
                summary=plan.summary,
                checked=[f"policy: {', '.join(decision.policy_ids)}"],
                next_step=_next_step(plan),
            )
        if decision.route == "step_up":
            return await self.step_up(ctx, case)
        if decision.route == "approval":
            return await self.request_approval(ctx, case, plan, decision)
        return await self.act(ctx, case, plan, decision)

    def tell(self, ctx: TurnContext, case: Case, text: str, card: Card | None = None) -> None:
        """A message to the requester, wherever the turn came from."""
        ctx.send(
            Address(person=case.requester, conversation=case.conversation),
            ctx.text_reply(text, card),
        )

    # --- step-up --------------------------------------------------------------------
    async def step_up(self, ctx: TurnContext, case: Case) -> Case:
        d = self._desk
        requester = await d.directory.person(case.requester)
        assert requester is not None
        try:
            challenge = await d.stepup.challenge(requester, case.id)
        except (Throttled, NoFactor, LockedOut) as exc:
            text = (
                texts.STEP_UP_THROTTLED if isinstance(exc, Throttled) else texts.STEP_UP_NO_FACTOR
            )
            plan = plan_of(case)
            return await d.handoff.escalate(
                ctx,
                case,
                queue="accounts",
                priority="high",
                summary=plan.summary if plan else case.text,
                checked=[text],
            )
        status = CaseStatus.VERIFYING if case.status != CaseStatus.VERIFYING else None
        case = await ctx.record(
            case,
            "step_up.sent",
            actor="desk",
            status=status,
            data={"factor": challenge.factor, "challenge": challenge.id},
        )
        template = texts.STEP_UP_PUSH if challenge.kind == "push" else texts.STEP_UP_CODE
        where = f"phone ({challenge.address})" if challenge.kind == "push" else challenge.address
        self.tell(ctx, case, template.format(address=where))
        return case

    async def on_check(self, ctx: TurnContext, case: Case, result: CheckResult) -> Case:
        d = self._desk
        outcome = result.outcome
        if outcome == CheckOutcome.PASSED:
            factor = result.challenge.factor if result.challenge else None
            case = await ctx.record(
                case,
                "verified",
                actor=case.requester,
                data={
                    "factor": factor,
                    "human": False,
                    "challenge": result.challenge.id if result.challenge else None,
                },
            )
            self.tell(ctx, case, texts.STEP_UP_PASSED)
            return await self.proceed(ctx, case)
        if outcome == CheckOutcome.LOCKED_OUT:
            case = await ctx.record(
                case, "step_up.locked_out", actor="desk", data={"failures": result.failures_in_row}
            )
            plan = plan_of(case)
            case = await d.handoff.escalate(
                ctx,
                case,
                queue="accounts",
                priority="high",
                summary=f"Three failed step-up checks in a row: {plan.summary if plan else ''}",
                checked=["step-up failed 3 times in a row"],
                next_step="Call the person on a known number before changing anything.",
            )
            await self.notify_role(
                ctx,
                "security",
                case.requester,
                "three failed sign-in checks in a row at the IT desk",
            )
            self.tell(ctx, case, texts.STEP_UP_LOCKED_OUT)
            return case
        if outcome == CheckOutcome.FAILED:
            case = await ctx.record(
                case, "step_up.failed", actor="desk", data={"failures": result.failures_in_row}
            )
            if (
                result.challenge is not None
                and result.challenge.kind == "code"
                and (result.challenge.status == "pending")
            ):
                self.tell(ctx, case, texts.STEP_UP_CODE_WRONG)
                return case
            self.tell(ctx, case, texts.STEP_UP_FAILED_RETRY)
            return await self.step_up(ctx, case)
        if outcome == CheckOutcome.EXPIRED:
            self.tell(ctx, case, texts.STEP_UP_EXPIRED)
            return await self.step_up(ctx, case)
        if outcome == CheckOutcome.REPLAYED:
            ctx.say(texts.BUTTON_USED)
            return case
        if outcome == CheckOutcome.WAITING:
            ctx.say(texts.STEP_UP_WAITING)
            return case
        ctx.say(texts.STEP_UP_NONE)
        return case

    # --- approvals ------------------------------------------------------------------
    async def request_approval(
        self, ctx: TurnContext, case: Case, plan: Plan, decision: Decision
    ) -> Case:
        d = self._desk
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
            fields=await self._approval_fields(case, plan),
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
        self.tell(ctx, case, texts.approval_requested(_join(names)))
        return case

    async def approvers(self, kind: str, case: Case, plan: Plan) -> list[str]:
        """The people who may approve, never the requester: when the approver would be the
        requester, the request goes to the requester's manager."""
        d = self._desk
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
                p.username for p in await d.directory.people_with_role(kind) if not p.disabled
            ]
        elif kind == "oncall":
            candidates = await self.oncall()
        # nobody approves their own request, and a disabled account approves nothing (a
        # leaver's cards would wait unseen until they expire): either way, one level up
        approvers = [c for c in candidates if c != requester.username and await self._active(c)]
        up = requester.manager
        if not approvers and candidates and up and up != requester.username:
            approvers = [up] if await self._active(up) else []
        return approvers

    async def _active(self, username: str) -> bool:
        person = await self._desk.directory.person(username)
        return person is not None and not person.disabled

    async def oncall(self) -> list[str]:
        d = self._desk
        roster = await d.control.roster()
        if roster is not None:
            return roster
        return [p.username for p in await d.directory.people_with_role("oncall")]

    async def _approval_fields(self, case: Case, plan: Plan) -> list[tuple[str, str]]:
        d = self._desk
        requester = await d.directory.person(case.requester)
        what = ", ".join(_step_label(s.skill, s.params) for s in plan.steps)
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

    async def on_decision(
        self, ctx: TurnContext, case: Case, approval_id: str, approve: bool
    ) -> Case:
        d = self._desk
        approval = await d.approvals.get(approval_id)
        if approval is None:
            ctx.say(texts.BUTTON_UNKNOWN)
            return case
        if approval.status != "pending":
            decider = await d.directory.person(approval.decided_by or "")
            ctx.say(texts.already_decided(approval.status, decider.name if decider else None))
            return case
        if ctx.person.username == approval.requester:
            ctx.say(texts.NO_SELF_APPROVAL)
            return case
        if ctx.person.username not in approval.approvers:
            ctx.say(texts.BUTTON_NOT_YOURS)
            return case
        if d.clock.now() >= approval.expires_at:
            ctx.say(texts.BUTTON_EXPIRED)
            return case
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
            self.tell(ctx, case, texts.approval_denied(ctx.person.name))
            return case
        case = await ctx.record(
            case, "approved", data={"approval": approval.id, "kind": approval.kind}
        )
        self.tell(ctx, case, texts.approval_approved(ctx.person.name))
        return await self.proceed(ctx, case)

    # --- acting ---------------------------------------------------------------------
    async def act(self, ctx: TurnContext, case: Case, plan: Plan, decision: Decision) -> Case:
        d = self._desk
        case = await ctx.record(case, "executing", actor="desk", status=CaseStatus.EXECUTING)
        why = Provenance(
            requested_by=case.requester,
            approved_by=tuple(approvers_of(case)),
            policy=decision.policy_ids,
            verification=verification_of(case),
        )
        try:
            case, done = await d.actions.run_saga(ctx, case, plan.steps, why)
        except SagaFailed as exc:
            capability = missing_capability(exc.cause)
            if capability is not None:
                return await self._unsupported(ctx, case, plan, exc, capability)
            # a request that cannot be done as asked is refused, if nothing was done for it
            # yet; half-way through, a human looks at what the saga did and undid
            if isinstance(exc.cause, PreconditionFailed) and not (exc.compensated or exc.left):
                case = await ctx.record(
                    case,
                    "refused",
                    actor="desk",
                    status=CaseStatus.REFUSED,
                    data={"reason": exc.cause.text_key},
                )
                self.tell(ctx, case, texts.refusal(exc.cause.text_key))
                return case
            log.warning("action.failed", case=case.id, step=exc.step, error=str(exc.cause))
            self.tell(ctx, case, texts.ACTION_FAILED)
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                priority="high",
                summary=plan.summary,
                checked=[
                    f"{exc.step} failed: {str(exc.cause)[:120]}",
                    *(f"undid {s}" for s in exc.compensated),
                    *(f"still in effect, check by hand: {s}" for s in exc.left),
                ],
                next_step=_next_step(plan),
            )
        try:
            await self._after_actions(ctx, case, plan, done)
        except Exception:
            # The actions ran and are recorded; a failed notice or schedule must not leave the
            # case stuck in "executing". The log names it for an operator.
            log.exception("after_actions.failed", case=case.id)
        if plan.then == "escalate":
            checked = [f"{_step_label(e.skill, e.args)}: done" for e in done]
            return await d.handoff.escalate(
                ctx,
                case,
                queue=plan.queue,
                priority=plan.escalate_priority,
                summary=plan.summary,
                checked=checked,
                next_step=_next_step(plan),
            )
        case = await ctx.record(case, "resolved", actor="desk", status=CaseStatus.RESOLVED)
        await self.status_card(ctx, case, done)
        return case

    async def _unsupported(
        self, ctx: TurnContext, case: Case, plan: Plan, exc: SagaFailed, capability: str
    ) -> Case:
        """The backend cannot do a step at all: the request is fine (no refusal) and a retry
        will not help (no failure), so a technician does it by hand, told what is missing."""
        self.tell(ctx, case, texts.unsupported(capability))
        case = await self._desk.handoff.escalate(
            ctx,
            case,
            queue=plan.queue,
            priority=plan.escalate_priority if plan.then == "escalate" else "normal",
            summary=plan.summary,
            checked=[
                f"{exc.step} not done: the backend does not support {capability}; do it by hand",
                *(f"undid {s}" for s in exc.compensated),
                *(f"still in effect, check by hand: {s}" for s in exc.left),
            ],
            next_step=_next_step(plan),
        )
        for role in plan.notify_roles:  # security still hears of a lost device it must lock
            await self.notify_role(ctx, role, case.requester, f"{plan.intent}: {plan.summary}")
        return case

    async def _after_actions(
        self, ctx: TurnContext, case: Case, plan: Plan, done: list[Executed]
    ) -> None:
        d = self._desk
        for executed in done:
            what = CREDENTIAL_SKILLS.get(executed.skill)
            if what:
                person = await d.directory.person(executed.args.get("user", ""))
                if person is not None:
                    await notify_change(person, what, d.directory, d.outbox, d.clock)
            # only a grant the desk made ends on its own: a membership the person already had
            # (the add changed nothing) is not the desk's to take away
            if (
                executed.skill == "add_to_group"
                and executed.args.get("days")
                and executed.result.changed
            ):
                await d.access.schedule_expiry(case, executed)
        for role in plan.notify_roles:
            summary = "; ".join(_step_label(e.skill, e.args) for e in done) or plan.summary
            await self.notify_role(ctx, role, case.requester, f"{plan.intent}: {summary}")

    async def notify_role(self, ctx: TurnContext, role: str, requester: str, what: str) -> None:
        d = self._desk
        person = await d.directory.person(requester)
        name = person.name if person else requester
        for p in await d.directory.people_with_role(role):
            if not p.disabled and p.username != requester:
                ctx.send(Address.dm(p.username), ctx.text_reply(texts.security_notice(name, what)))

    async def status_card(self, ctx: TurnContext, case: Case, done: list[Executed]) -> None:
        d = self._desk
        buttons: list[Button] = []
        undoable = [e for e in done if e.inverse and e.result.changed]
        if len(undoable) == 1:
            ref = await d.refs.mint(
                "undo",
                case_id=case.id,
                allowed=[case.requester],
                data={"action": undoable[0].action_id},
                expires_at=d.clock.now() + UNDO_WINDOW,
            )
            buttons.append(
                Button(label="Undo", action="undo", ref=ref, confirm="Undo this change?")
            )
        for label, action in (("Helped", "helped"), ("Didn't help", "didnt_help")):
            ref = await d.refs.mint(action, case_id=case.id, allowed=[case.requester])
            buttons.append(Button(label=label, action=action, ref=ref))
        summary = " ".join(e.result.summary for e in done)
        fields = tuple(CardField(label="Done", value=_step_label(e.skill, e.args)) for e in done)
        card = Card(
            kind="status",
            title=texts.DONE_TITLE,
            text=summary,
            fields=fields,
            buttons=tuple(buttons),
            case_id=case.id,
            about=case.requester,
            context="Undo is available for 24 hours." if undoable else None,
        )
        message_id = d.new_message_id()
        await ctx.record(
            case,
            "status_card",
            actor="desk",
            data={"message": message_id, "card": card.model_dump(mode="json")},
        )
        ctx.send(
            Address(person=case.requester, conversation=case.conversation),
            Reply(id=message_id, text=summary, card=card),
        )

    async def on_undo(self, ctx: TurnContext, case: Case, action_id: str) -> Case:
        d = self._desk
        record = await d.actions.record(action_id)
        if record is None or not record.get("inverse"):
            ctx.say(texts.UNDO_EXPIRED)
            return case
        plan = plan_of(case)
        inverse = str(record["inverse"])
        decision = await self.decide(case, plan, action=inverse, undo=True) if plan else None
        if decision is not None and decision.route == "escalate" and plan is not None:
            # policy wants a human for the reversal (paused, a privileged account...): hand it
            # over with what to undo rather than leave the person with a dead button
            await self._strip_undo(ctx, case)
            return await d.handoff.escalate(
                ctx,
                case,
                queue=decision.queue or plan.queue,
                priority=decision.priority or "normal",
                summary=f"Undo requested: {_step_label(str(record['skill']), record['args'])}",
                checked=[f"policy: {', '.join(decision.policy_ids)}"],
            )
        if decision is None or decision.route != "act":
            ctx.say(texts.refusal(decision.reason if decision else None))
            return case
        why = Provenance(
            requested_by=case.requester,
            approved_by=tuple(approvers_of(case)),
            policy=decision.policy_ids,
            verification=verification_of(case),
        )
        case, _ = await d.actions.undo(ctx, case, action_id, why)
        await d.access.cancel_expiry(case.id)
        await self._strip_undo(ctx, case)
        ctx.say(texts.UNDO_DONE)
        return case

    async def _strip_undo(self, ctx: TurnContext, case: Case) -> None:
        for event in reversed(case.events):
            if event.type == "status_card":
                card = Card.model_validate(event.data["card"])
                kept = tuple(b for b in card.buttons if b.action != "undo")
                card = card.model_copy(update={"buttons": kept, "context": "Undone."})
                ctx.update(
                    Address(person=case.requester, conversation=case.conversation),
                    Reply(id=str(event.data["message"]), text=card.text, card=card),
                )
                return


def _step_label(skill: str, args: dict[str, Any]) -> str:
    target = args.get("group") or args.get("software") or args.get("device") or args.get("user")
    where = f" on {args['device']}" if skill == "install_software" and args.get("device") else ""
    name = skill.replace("_", " ")
    return f"{name} {target}{where}".strip() if target else name


def _next_step(plan: Plan) -> str:
    return {
        "accounts": "Confirm the person's identity by phone, then act in the directory.",
        "access": "Check with the group owner whether access is appropriate.",
        "software": "Check licensing and compatibility, then install or offer an alternative.",
        "security": "Contact the person now; check sign-in logs and the device's last location.",
        "hardware": "Arrange a repair or a loaner device.",
        "network": "Check the person's connection details and recent network incidents.",
    }.get(plan.queue, "Contact the person to understand what they need.")


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
