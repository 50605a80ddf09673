"""A person's message to the desk, and where it goes: an answer to a sign-in check, a reply
to the technician who has their case, an answer to a clarifying question, more about a case
waiting for a human, or a new request, understood and taken as far as policy allows."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from bot import texts
from bot.answers import Answers
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.conversation import Conversation
from bot.events import AnsweredQuestion, Planned, Refused, Understood
from bot.gates import Gates
from bot.handoff import Handoff
from bot.models import Person
from bot.notices import Notices
from bot.outages import Outages
from bot.planner import Planner
from bot.plans import Question, Referral
from bot.policy import PolicyEngine, PolicyRequest
from bot.ports import Directory
from bot.questions import exact_option, joiner_answer, only_option_named
from bot.routing import Routing
from bot.state.cases import CaseRepository
from bot.state.control import DeskControl
from bot.state.conversations import ConversationLocks, UnclearMessages
from bot.texts import Catalogue
from bot.understanding import UNKNOWN_PERSON, IntentCatalog, Understander, Understanding
from skills.planning import Names
from verification.stepup import StepUp

log = structlog.get_logger("itdesk.desk")

KNOWLEDGE_INTENTS = frozenset(
    {"vpn_issue", "wifi_issue", "email_issue", "printer_issue", "software_issue"}
)
HANDOFF_INTENTS = frozenset({"hardware_issue", "other"})


@dataclass(frozen=True)
class IntakeDeps:
    understanding: Understander
    intents: IntentCatalog
    cases: CaseRepository
    locks: ConversationLocks
    unclear: UnclearMessages
    stepup: StepUp
    policy: PolicyEngine
    control: DeskControl
    directory: Directory
    planner: Planner
    conversation: Conversation
    gates: Gates
    handoff: Handoff
    answers: Answers
    notices: Notices
    routing: Routing
    outages: Outages
    names: Names  # the org's names, cached (a manager named in a typed answer)
    texts: Catalogue  # the desk's sentences and the skills' (their notes for technicians)
    threshold: float


class Intake:
    def __init__(self, deps: IntakeDeps) -> None:
        self._d = deps

    async def message(self, ctx: TurnContext) -> None:
        """A message in the person's direct conversation with the desk."""
        d = self._d
        text = ctx.turn.text.strip()
        if not text:
            return
        async with d.locks.hold(ctx.turn.conversation_id) as fence:
            ctx.fence = fence
            current = await d.cases.latest_open(ctx.person.username)
            if current is not None and current.conversation == ctx.turn.conversation_id:
                if await d.gates.resume_left(ctx, current):
                    return
                if current.status == CaseStatus.EXECUTING:
                    current = await d.cases.latest_open(ctx.person.username)
            check = await d.stepup.answer_code(ctx.person, text)
            if check is not None and check.case_id:
                case = await d.cases.get(check.case_id)
                if case is not None:
                    await d.gates.on_check(ctx, case, check)
                    return
            if current is not None and current.status == CaseStatus.CLAIMED:
                await d.handoff.from_requester(ctx, current, text)
                return
            if current is not None and current.open_question() is not None:
                await self._answer_question(ctx, current, text)
                return
            if current is not None and current.status == CaseStatus.ESCALATED:
                # Waiting for a technician: more about the same thing goes on the ticket; a
                # new, clear request (or "what's the status?") is not trapped in that thread.
                u = await d.understanding.understand(text, requester=ctx.person)
                if not self._new_topic(u, current):
                    await d.handoff.from_requester(ctx, current, text)
                    ctx.say(texts.say("handoff.added_to_ticket", ticket_id=current.ticket_id or ""))
                    return
                await self.new_request(ctx, text, understood=u)
                return
            await self.new_request(ctx, text)

    def _new_topic(self, u: Understanding, case: Case) -> bool:
        """Whether a message to a person with an escalated case is a request of its own: a
        confident intent the desk can act on that differs from the case's, or the same
        intent about a different group, application, device or person."""
        if not u.confident or u.confidence < self._d.threshold:
            return False
        if u.intent in {"other", "not_it"}:
            return False
        if u.intent != case.intent:
            return True
        return any(
            u.slots.get(slot) and case.slots.get(slot) and u.slots[slot] != case.slots[slot]
            for slot in ("group", "software", "software_name", "device", "target_user")
        )

    async def new_request(
        self,
        ctx: TurnContext,
        text: str,
        *,
        intent: str | None = None,
        understood: Understanding | None = None,
    ) -> None:
        """Understand a first message and take it as far as policy allows."""
        d = self._d
        u = understood or await d.understanding.understand(text, requester=ctx.person)
        if intent is not None:
            u = u.model_copy(
                update={
                    "intent": intent,
                    "confidence": 1.0,
                    "confident": True,
                    "queue": d.intents.queue_of(intent),
                }
            )
        log.info(
            "understood", intent=u.intent, confidence=round(u.confidence, 3), slots=sorted(u.slots)
        )
        sure = u.confident and u.confidence >= d.threshold
        if sure and u.intent == "not_it":
            ctx.say(texts.not_it())
            return
        if sure and u.intent == "ticket_status":
            await d.conversation.ticket_status(ctx)
            return
        # Unsure, but it may be an incident: policy says whether it goes to a human at once.
        handover = None if sure else d.routing.hand_over(
            ctx.person, intent=u.intent, queue=u.queue or "other", sure=False,
            confidence=u.confidence,
        )  # fmt: skip
        incident = handover is not None and handover.routed
        if not sure and not incident and await d.unclear.first(ctx.person.username):
            await d.conversation.menu(ctx)
            return
        case = await d.cases.open(
            requester=ctx.person.username,
            conversation=ctx.turn.conversation_id,
            platform=ctx.turn.platform,
            text=text,
            fence=ctx.fence.pair() if ctx.fence else None,
            correlation_id=ctx.turn.correlation_id,
            event_id=ctx.turn.event_id,
        )
        case = await ctx.record(case, Understood.of(u), actor="desk")
        queue = u.queue or "other"
        paused, mode = await d.control.switches(queue)
        gate = d.policy.decide(
            PolicyRequest(
                principal=ctx.person,
                action="open_case",
                resource=ctx.person,
                subject=await self._named_subject(ctx.person, u),
                intent=u.intent,
                queue=queue,
                paused=paused,
                mode=mode,
            )
        )
        if gate.route != "act":
            case = await ctx.record(case, gate.event(), actor="desk")
            if gate.route == "refuse":
                await ctx.record(
                    case, Refused(reason=gate.reason), actor="desk", status=CaseStatus.REFUSED
                )
                ctx.say(texts.refusal(gate.reason))
                return
            await d.handoff.escalate(
                ctx,
                case,
                queue=gate.queue or queue,
                priority=gate.priority or "normal",
                summary=text[:200],
                checked=[texts.say("note.policy", policies=", ".join(gate.policy_ids))],
            )
            return
        if not sure:
            # A menu would waste the minutes an incident counts; nothing is done to any
            # account or device before a human looks.
            case = await d.handoff.escalate(
                ctx,
                case,
                queue=handover.queue
                if handover and incident
                else queue
                if u.intent != "not_it"
                else "other",
                priority=handover.priority if handover and incident else "normal",
                summary=text[:200],
                checked=[
                    texts.say("note.unsure", intent=u.intent, confidence=f"{u.confidence:.0%}")
                ],
            )
            for role in handover.notify if handover and incident else ():
                what = texts.say("note.possible", what=_described(u.intent), text=text[:160])
                await d.notices.tell_role(ctx, role, case.requester, what)
            return
        await self._route(ctx, case, u)

    async def _named_subject(self, person: Person, u: Understanding) -> Person:
        """Whom the request is about: the requester, a directory person it names, or a
        stand-in for someone the directory does not know ("add dan to ...")."""
        target = u.slots.get("target_user")
        if not target or target == person.username:
            return person
        known = await self._d.directory.person(target)
        if known is not None:
            return known
        named = target.removeprefix(UNKNOWN_PERSON)
        return Person(username=target, name=named, email="unknown@invalid")

    async def _route(self, ctx: TurnContext, case: Case, u: Understanding) -> None:
        d = self._d
        queue = u.queue or "other"
        if await d.outages.report(ctx, case, u) is not None:
            return  # one more report of an open incident: told, and on its list
        if u.intent in KNOWLEDGE_INTENTS:
            await d.answers.runbook(ctx, case, queue, u.intent)
            return
        if u.intent in HANDOFF_INTENTS:
            await d.handoff.escalate(ctx, case, queue=queue, summary=case.text[:200])
            return
        outcome = await d.planner.plan(ctx.person, u.intent, queue, dict(u.slots), case.text)
        if isinstance(outcome, Question):
            await d.conversation.ask(ctx, case, outcome)
        elif isinstance(outcome, Referral):
            handover = d.routing.hand_over(ctx.person, intent=u.intent, queue=queue, sure=True,
                                           confidence=u.confidence)  # fmt: skip
            case = await d.handoff.escalate(
                ctx,
                case,
                queue=handover.queue,
                priority=handover.priority,
                summary=case.text[:200],
                checked=[d.texts.render(outcome.note)] if outcome.note else None,
            )
            for role in handover.notify:
                await d.notices.tell_role(
                    ctx,
                    role,
                    case.requester,
                    texts.say(
                        "note.role_notice",
                        intent=u.intent.replace("_", " "),
                        summary=case.text[:160],
                    ),
                )
        else:
            case = await ctx.record(case, Planned(plan=outcome), actor="desk")
            await d.gates.proceed(ctx, case)

    async def _answer_question(self, ctx: TurnContext, case: Case, text: str) -> None:
        d = self._d
        question = case.open_question()
        if question is None:
            return
        slot, options, labels = question.slot, question.options, question.labels
        value = exact_option(text, options, labels)
        if value is None and slot in {"joiner_name", "manager"}:
            value = joiner_answer(slot, text, list((await d.names.current()).people))
        elif value is None:
            heard = await d.understanding.understand(text, requester=ctx.person)
            value = heard.slots.get(slot)
            if value is None and slot == "software":
                value = heard.slots.get("software_name")
            if options and value not in options:
                value = only_option_named(text, options, labels)
        if value is None:
            if options:
                ctx.say(texts.say("ask.choice_unclear"))
                return
            u = case.understood()
            await d.handoff.escalate(
                ctx,
                case,
                queue=(u.queue if u and u.queue else "other"),
                summary=case.text[:200],
                checked=[texts.say("note.asked_for", slot=slot, text=text[:80])],
            )
            return
        await self.fill_slot(ctx, case, slot, value)

    async def fill_slot(self, ctx: TurnContext, case: Case, slot: str, value: str) -> None:
        """A clarifying question answered: plan again with the slot filled."""
        u = case.understood()
        if u is None:
            return
        slots = {**u.slots, slot: value}
        if slot == "software" and "software_name" in slots:
            slots.pop("software_name")
        u = u.model_copy(update={"slots": slots})
        case = await ctx.record(case, AnsweredQuestion(slot=slot, value=value))
        case = await ctx.record(case, Understood.of(u), actor="desk")
        await self._route(ctx, case, u)


def _described(intent: str) -> str:
    return intent.replace("_", " ")
