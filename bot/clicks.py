"""A button pressed on one of the desk's cards, or a push answered on a phone. A button's ref
names a record the desk keeps (what it does, on which case, who may press it); nothing in
the click itself is trusted. A refused press is kept in the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from bot import texts
from bot.answers import Answers
from bot.approvals import too_late
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.gates import Gates
from bot.handoff import Handoff
from bot.intake import Intake
from bot.models import Person
from bot.oncall import OnCall
from bot.policy import Answer, PolicyEngine, questions
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository
from bot.state.conversations import ConversationLocks
from bot.state.refs import ButtonRef, ButtonRefs
from verification.stepup import CHECK_ANSWERED, StepUp

log = structlog.get_logger("itdesk.desk")

ClickHandler = Callable[[TurnContext, ButtonRef, Case | None], Awaitable[None]]
APPROVAL_ACTIONS = frozenset({"approve", "deny"})
SINGLE_USE = frozenset({"undo", "helpful", "not_helpful", "helped", "didnt_help", "choose", "menu"})


@dataclass(frozen=True)
class ClickDeps:
    refs: ButtonRefs
    policy: PolicyEngine
    oncall: OnCall
    cases: CaseRepository
    locks: ConversationLocks
    audit: AuditLog
    stepup: StepUp
    gates: Gates
    handoff: Handoff
    answers: Answers
    intake: Intake
    clock: Clock


class Clicks:
    def __init__(self, deps: ClickDeps) -> None:
        self._d = deps
        self._handlers: dict[str, ClickHandler] = {
            "claim": self._on_claim,
            "resolve": self._on_resolve,
            "approve": self._on_approval,
            "deny": self._on_approval,
            "undo": self._on_undo,
            "helpful": deps.answers.on_runbook_feedback,
            "not_helpful": deps.answers.on_runbook_feedback,
            "helped": deps.answers.on_feedback,
            "didnt_help": deps.answers.on_feedback,
            "choose": self._on_choose,
            "menu": self._on_menu,
        }

    def add(self, handlers: dict[str, ClickHandler]) -> None:
        """More buttons, each by its action (the lockout outreach's); an action is handled
        by one handler only."""
        taken = sorted(handlers.keys() & self._handlers.keys())
        if taken:
            raise ValueError(f"click actions already handled: {', '.join(taken)}")
        self._handlers.update(handlers)

    async def press(self, ctx: TurnContext) -> None:
        d = self._d
        action = ctx.turn.action or ""
        if action == CHECK_ANSWERED:
            await self._on_push(ctx)
            return
        ref = await d.refs.get(ctx.turn.ref or "")
        if ref is None or ref.action != action or ref.action not in self._handlers:
            ctx.say(texts.say("button.unknown"))
            return
        case = await d.cases.get(ref.case_id) if ref.case_id else None
        answer = await self._may_press(ref, ctx.person, case)
        if not answer.allowed:
            # a forwarded or replayed button: refused, and kept in the audit trail
            log.warning("click.refused", action=ref.action, case=ref.case_id)
            await d.audit.append(self._refused(ctx, ref, answer.reason or "not_allowed"))
            own = answer.reason == "no_self_approval"
            ctx.say(
                texts.say("approval.no_self_approval") if own else texts.say("button.not_yours")
            )
            return
        if ref.expires_at is not None and d.clock.now() >= ref.expires_at:
            if ref.action in APPROVAL_ACTIONS:
                late = too_late(
                    by=ctx.person.username,
                    approval_id=str(ref.data.get("approval")),
                    approve=ref.action == "approve",
                    case_id=ref.case_id,
                    why="expired",
                    at=d.clock.now(),
                )
                await d.audit.append(late)
            ctx.say(texts.say("button.expired"))
            return
        conversation = case.conversation if case else ctx.turn.conversation_id
        async with d.locks.hold(conversation) as fence:
            ctx.fence = fence
            if ref.action in SINGLE_USE and not await d.refs.consume(ref.token):
                ctx.say(texts.say("button.used"))
                return
            if case is not None:
                case = await d.cases.get(case.id)
                if case is not None and await d.gates.resume_left(ctx, case):
                    return  # this click's acting, cut short by a dead process, is finished
            await self._handlers[ref.action](ctx, ref, case)

    def _refused(self, ctx: TurnContext, ref: ButtonRef, why: str) -> dict[str, Any]:
        """The audit record of a press policy refused: who, which button, on what, why."""
        record: dict[str, Any] = {
            "type": "click.refused",
            "by": ctx.person.username,
            "action": ref.action,
            "about_case": ref.case_id,
            "why": why,
            "at": self._d.clock.now().isoformat(),
        }
        if ref.action in APPROVAL_ACTIONS:
            record["approval"] = str(ref.data.get("approval"))
        return record

    async def _may_press(self, ref: ButtonRef, person: Person, case: Case | None) -> Answer:
        """What policy says of `person` pressing the button the desk recorded as `ref`."""
        question = questions.press(
            person,
            action=ref.action,
            addressed_to=ref.allowed,
            role=ref.role,
            requester=case.requester if case else None,
            on_roster=await self._d.oncall.on_roster(person),
        )
        return self._d.policy.ask(question)

    async def _on_push(self, ctx: TurnContext) -> None:
        """A push was answered on a phone: the desk reads the answer from the checks."""
        d = self._d
        pending = await d.stepup.pending(ctx.person.username)
        case = await d.cases.get(pending.case_id) if pending else None
        conversation = case.conversation if case else ctx.turn.conversation_id
        async with d.locks.hold(conversation) as fence:
            ctx.fence = fence
            result = await d.stepup.answer_push(ctx.person, ctx.turn.ref or "")
            case = await d.cases.get(result.case_id) if result.case_id else None
            if case is None:
                ctx.say(texts.say("step_up.none"))
                return
            await d.gates.on_check(ctx, case, result)

    async def _on_claim(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self._d.handoff.claim(ctx, case)

    async def _on_resolve(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            case = await self._d.handoff.resolve(ctx, case)
            if case.status == CaseStatus.RESOLVED:
                await self._d.answers.ask_feedback(ctx, case)

    async def _on_approval(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self._d.gates.on_decision(
                ctx, case, str(ref.data.get("approval")), approve=ref.action == "approve"
            )

    async def _on_undo(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self._d.gates.on_undo(ctx, case, str(ref.data.get("action")))

    async def _on_choose(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is None or case.open_question() is None:
            ctx.say(texts.say("button.used"))
            return
        await self._d.intake.fill_slot(ctx, case, str(ref.data["slot"]), str(ref.data["value"]))

    async def _on_menu(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        await self._d.intake.new_request(
            ctx, str(ref.data.get("text", "")), intent=str(ref.data.get("intent"))
        )
