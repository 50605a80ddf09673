"""The desk: one turn in, effects out.

`Desk.handle` drops duplicate deliveries, finds out who is typing, serialises work per
conversation, and routes the turn: a message opens or continues a case, a click acts on the
record its button names, a command steers the desk. Scheduled work (approval reminders and
expiry, the end of time-bound access) runs through the same cases and effects."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from bot import texts
from bot.access import TimeBoundAccess
from bot.actions import ActionRunner
from bot.admin import Admin
from bot.answers import Answers
from bot.approvals import Approvals
from bot.audit import AuditLog
from bot.cases import Case, CaseStatus, CaseStore
from bot.clock import Clock
from bot.concurrency import ConversationLocks, Deduplicator, LockTimeout
from bot.context import TurnContext
from bot.control import DeskControl
from bot.flow import (
    HANDOFF_INTENTS,
    KNOWLEDGE_INTENTS,
    Conversation,
    Handoff,
    Planner,
    Question,
    open_question,
    understood_of,
)
from bot.gates import Gates
from bot.handoff import Handoff as HandoffService
from bot.models import Address, Effect, Person, Reply, Send, Turn, TurnKind
from bot.observability import Metrics, bind_correlation, new_correlation_id
from bot.onboarding import match_person
from bot.outbound import Outbound
from bot.policy import PolicyEngine, PolicyRequest
from bot.ports import Checks, Devices, Directory, Outbox, Tickets
from bot.refs import ButtonRef, ButtonRefs
from bot.scheduler import Job, Scheduler
from bot.store import Store
from bot.summaries import Summaries
from bot.understanding import UNKNOWN_PERSON, Understanding
from bot.understanding.model import QUEUE_OF
from skills import default_skills
from skills.base import SkillRegistry
from verification.identity import resolve_person
from verification.stepup import CHECK_ANSWERED, StepUp

log = structlog.get_logger("itdesk.desk")

ClickHandler = Callable[[TurnContext, ButtonRef, Case | None], Awaitable[None]]
SINGLE_USE = frozenset({"undo", "helpful", "not_helpful", "helped", "didnt_help", "choose", "menu"})


class Understander(Protocol):
    """Turns a message into an intent, slots and a confidence (offline model or Claude)."""

    async def understand(self, text: str, *, requester: Person) -> Understanding: ...


class Runbooks(Protocol):
    """Runbook retrieval: the best matches for a question, (title, body, score), best first."""

    def search(
        self, text: str, k: int = 1, *, intent: str | None = None
    ) -> Sequence[tuple[str, str, float]]: ...


@dataclass
class DeskDeps:
    """Everything the desk works with, built once by `bot.app` from the settings."""

    store: Store
    clock: Clock
    directory: Directory
    devices: Devices
    tickets: Tickets
    outbox: Outbox
    checks: Checks
    scheduler: Scheduler
    metrics: Metrics
    understanding: Understander
    knowledge: Runbooks
    policy: PolicyEngine
    skills: SkillRegistry = field(default_factory=default_skills)
    summaries: Summaries = field(default_factory=Summaries)
    oncall_channel: str = "oncall"
    threshold: float = 0.55
    outbound: Outbound | None = None


class Desk:
    """The service desk's brain, independent of any chat platform."""

    def __init__(self, deps: DeskDeps) -> None:
        self.deps = deps
        self.store = deps.store
        self.clock = deps.clock
        self.directory = deps.directory
        self.devices = deps.devices
        self.tickets = deps.tickets
        self.outbox = deps.outbox
        self.scheduler = deps.scheduler
        self.metrics = deps.metrics
        self.policy = deps.policy
        self.skills = deps.skills
        self.understanding = deps.understanding
        self.knowledge = deps.knowledge
        self.oncall_channel = deps.oncall_channel
        self.audit = AuditLog(deps.store)
        self.cases = CaseStore(deps.store, self.audit, deps.clock)
        self.refs = ButtonRefs(deps.store)
        self.locks = ConversationLocks(deps.store)
        self.dedupe = Deduplicator(deps.store)
        self.control = DeskControl(deps.store)
        self.stepup = StepUp(deps.store, deps.clock, deps.directory, deps.checks)
        self.handoff = HandoffService()
        self.summaries = deps.summaries
        self.approvals = Approvals(self)
        self.actions = ActionRunner(self)
        self.gates = Gates(self)
        self.planner = Planner(self)
        self.conversation = Conversation(self)
        self.access = TimeBoundAccess(self)
        self.admin = Admin(self)
        self.answers = Answers(self)
        self._clicks: dict[str, ClickHandler] = {
            "claim": self._on_claim,
            "resolve": self._on_resolve,
            "approve": self._on_approval,
            "deny": self._on_approval,
            "undo": self._on_undo,
            "helpful": self.answers.on_runbook_feedback,
            "not_helpful": self.answers.on_runbook_feedback,
            "helped": self.answers.on_feedback,
            "didnt_help": self.answers.on_feedback,
            "choose": self._on_choose,
            "menu": self._on_menu,
        }
        self.access.register_jobs()
        self.scheduler.register("approval.remind", self.approvals.on_remind)
        self.scheduler.register("approval.expire", self.approvals.on_expire)

    async def warm_up(self) -> None:
        """Load what the first turn would otherwise wait for (the trained understanding)."""
        warm = getattr(self.understanding, "warm_up", None)
        if warm is not None:
            await warm()

    async def close(self) -> None:
        """Release what the understanding holds open (Claude's HTTP client)."""
        close = getattr(self.understanding, "aclose", None)
        if close is not None:
            await close()

    @staticmethod
    def new_message_id() -> str:
        return "M-" + secrets.token_hex(6)

    def requester_address(self, case: Case) -> Address:
        return Address(person=case.requester, conversation=case.conversation)

    # --- the turn -------------------------------------------------------------------
    async def handle(self, turn: Turn) -> list[Effect]:
        """Handle one inbound turn and return what to send. Never raises for bad input."""
        started = time.perf_counter()
        with bind_correlation(turn.correlation_id or new_correlation_id()):
            self.metrics.turns.labels(platform=turn.platform, kind=turn.kind.value).inc()
            if not await self.dedupe.first_time(turn.platform, turn.event_id):
                self.metrics.duplicates.labels(platform=turn.platform).inc()
                log.info("turn.duplicate", event_id=turn.event_id, platform=turn.platform)
                return []
            try:
                return await self._handle(turn)
            except LockTimeout:
                return [self._plain(turn, texts.BUSY)]
            except Exception:
                log.exception("turn.failed", event_id=turn.event_id, platform=turn.platform)
                return [self._plain(turn, texts.TRY_AGAIN)]
            finally:
                self.metrics.turn_seconds.observe(time.perf_counter() - started)

    async def _handle(self, turn: Turn) -> list[Effect]:
        person = await resolve_person(turn, self.directory)
        if person is None:
            log.info("turn.unknown_person", platform=turn.platform)
            return [self._plain(turn, texts.UNKNOWN_PERSON)]
        with structlog.contextvars.bound_contextvars(person=person.username):
            log.info("turn.received", kind=turn.kind.value, platform=turn.platform)
            ctx = TurnContext(desk=self, turn=turn, person=person)
            if turn.kind == TurnKind.CLICK:
                await self._click(ctx)
            elif turn.kind == TurnKind.COMMAND:
                await self.admin.run(ctx)
            elif turn.thread:
                await self._thread_message(ctx)
            else:
                await self._direct_message(ctx)
            return ctx.effects

    def _plain(self, turn: Turn, text: str) -> Send:
        to = Address(conversation=turn.conversation_id, thread=turn.thread)
        return Send(to=to, reply=Reply(id=self.new_message_id(), text=text))

    async def deliver(self, effects: list[Effect]) -> None:
        """Send effects that arose outside a turn (scheduled work)."""
        if effects and self.deps.outbound is not None:
            await self.deps.outbound.deliver(effects)

    # --- messages -------------------------------------------------------------------
    async def _direct_message(self, ctx: TurnContext) -> None:
        text = ctx.turn.text.strip()
        if not text:
            return
        async with self.locks.hold(ctx.turn.conversation_id) as fence:
            ctx.fence = fence
            check = await self.stepup.answer_code(ctx.person, text)
            if check is not None and check.case_id:
                case = await self.cases.get(check.case_id)
                if case is not None:
                    await self.gates.on_check(ctx, case, check)
                    return
            current = await self.cases.latest_open(ctx.person.username)
            if current is not None and current.status == CaseStatus.CLAIMED:
                await self.handoff.from_requester(ctx, current, text)
                return
            if current is not None and open_question(current) is not None:
                await self._answer_question(ctx, current, text)
                return
            if current is not None and current.status == CaseStatus.ESCALATED:
                # Waiting for a technician: more about the same thing goes on the ticket; a
                # new, clear request (or "what's the status?") is not trapped in that thread.
                u = await self.understanding.understand(text, requester=ctx.person)
                if not self._new_topic(u, current):
                    await self.handoff.from_requester(ctx, current, text)
                    ctx.say(texts.added_to_ticket(current.ticket_id or ""))
                    return
                await self.new_request(ctx, text, understood=u)
                return
            await self.new_request(ctx, text)

    def _new_topic(self, u: Understanding, case: Case) -> bool:
        """Whether a message to a person with an escalated case is a request of its own: a
        confident intent the desk can act on that differs from the case's, or the same
        intent about a different group, application, device or person."""
        if not u.confident or u.confidence < self.deps.threshold:
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
        u = understood or await self.understanding.understand(text, requester=ctx.person)
        if intent is not None:
            u = u.model_copy(
                update={
                    "intent": intent,
                    "confidence": 1.0,
                    "confident": True,
                    "queue": _queue_of(intent),
                }
            )
        log.info(
            "understood", intent=u.intent, confidence=round(u.confidence, 3), slots=sorted(u.slots)
        )
        sure = u.confident and u.confidence >= self.deps.threshold
        if sure and u.intent == "not_it":
            ctx.say(texts.NOT_IT)
            return
        if sure and u.intent == "ticket_status":
            await self.conversation.ticket_status(ctx)
            return
        incident = not sure and _possible_incident(u)
        if not sure and not incident and await self._first_unclear(ctx.person.username):
            await self.conversation.menu(ctx)
            return
        case = await self.cases.open(
            requester=ctx.person.username,
            conversation=ctx.turn.conversation_id,
            platform=ctx.turn.platform,
            text=text,
            fence=ctx.fence.pair() if ctx.fence else None,
            correlation_id=ctx.turn.correlation_id,
        )
        case = await ctx.record(case, "understood", actor="desk", data=u.model_dump(mode="json"))
        queue = u.queue or "other"
        gate = self.policy.decide(
            PolicyRequest(
                principal=ctx.person,
                action="open_case",
                resource=ctx.person,
                subject=await self._named_subject(ctx.person, u),
                intent=u.intent,
                queue=queue,
                paused=await self.control.paused(),
                mode=await self.control.mode(queue),
            )
        )
        if gate.route != "act":
            case = await ctx.record(case, "decided", actor="desk", data=gate.as_record())
            if gate.route == "refuse":
                await ctx.record(
                    case,
                    "refused",
                    actor="desk",
                    status=CaseStatus.REFUSED,
                    data={"reason": gate.reason},
                )
                ctx.say(texts.refusal(gate.reason))
                return
            await self.handoff.escalate(
                ctx,
                case,
                queue=gate.queue or queue,
                priority=gate.priority or "normal",
                summary=text[:200],
                checked=[f"policy: {', '.join(gate.policy_ids)}"],
            )
            return
        if not sure:
            # Unsure, but it may be an incident: a menu would waste the minutes that count, so
            # security gets it at once (nothing is done to any account or device).
            case = await self.handoff.escalate(
                ctx,
                case,
                queue="security" if incident else queue if u.intent != "not_it" else "other",
                priority="urgent" if incident else "normal",
                summary=text[:200],
                checked=[f"the desk was unsure (best guess {u.intent}, {u.confidence:.0%})"],
            )
            if incident:
                what = f"possible {_described(u.intent)}: {text[:160]}"
                await self.gates.notify_role(ctx, "security", case.requester, what)
            return
        await self._route(ctx, case, u)

    async def _named_subject(self, person: Person, u: Understanding) -> Person:
        """Whom the request is about: the requester, a directory person it names, or a
        stand-in for someone the directory does not know ("add dan to ...")."""
        target = u.slots.get("target_user")
        if not target or target == person.username:
            return person
        known = await self.directory.person(target)
        if known is not None:
            return known
        named = target.removeprefix(UNKNOWN_PERSON)
        return Person(username=target, name=named, email="unknown@invalid")

    async def _route(self, ctx: TurnContext, case: Case, u: Understanding) -> None:
        queue = u.queue or "other"
        if u.intent in KNOWLEDGE_INTENTS:
            await self.answers.runbook(ctx, case, queue, u.intent)
            return
        if u.intent in HANDOFF_INTENTS:
            await self.handoff.escalate(
                ctx,
                case,
                queue=queue,
                summary=case.text[:200],
            )
            return
        outcome = await self.planner.plan(ctx.person, u.intent, queue, dict(u.slots), case.text)
        if isinstance(outcome, Question):
            await self.conversation.ask(ctx, case, outcome)
        elif isinstance(outcome, Handoff):
            case = await self.handoff.escalate(
                ctx,
                case,
                queue=outcome.queue,
                priority=outcome.priority,
                summary=case.text[:200],
                checked=[outcome.note] if outcome.note else None,
            )
            for role in outcome.notify_roles:
                await self.gates.notify_role(
                    ctx, role, case.requester, f"{u.intent.replace('_', ' ')}: {case.text[:160]}"
                )
        else:
            case = await ctx.record(
                case, "planned", actor="desk", data={"plan": outcome.model_dump(mode="json")}
            )
            await self.gates.proceed(ctx, case)

    async def _first_unclear(self, username: str) -> bool:
        """True the first time in an hour that a person's message is unclear: they get the
        menu; a second unclear message goes to a human instead of another menu."""
        key = self.store.key("unclear", username)
        return bool(await self.store.redis.set(key, "1", nx=True, ex=3600))

    async def _answer_question(self, ctx: TurnContext, case: Case, text: str) -> None:
        question = open_question(case) or {}
        slot, options = str(question.get("slot")), [str(o) for o in question.get("options", [])]
        labels = [str(label) for label in question.get("labels", [])]
        value = _exact_option(text, options, labels)
        if value is None and slot in {"joiner_name", "manager"}:
            value = await _joiner_answer(slot, text, await self.directory.people())
        elif value is None:
            heard = await self.understanding.understand(text, requester=ctx.person)
            value = heard.slots.get(slot)
            if value is None and slot == "software":
                value = heard.slots.get("software_name")
            if options and value not in options:
                value = _only_option_named(text, options, labels)
        if value is None:
            if options:
                ctx.say(texts.CHOICE_UNCLEAR)
                return
            u = understood_of(case)
            await self.handoff.escalate(
                ctx,
                case,
                queue=(u.queue if u and u.queue else "other"),
                summary=case.text[:200],
                checked=[f"asked for {slot}, got: {text[:80]}"],
            )
            return
        await self.fill_slot(ctx, case, slot, value)

    async def fill_slot(self, ctx: TurnContext, case: Case, slot: str, value: str) -> None:
        u = understood_of(case)
        if u is None:
            return
        slots = {**u.slots, slot: value}
        if slot == "software" and "software_name" in slots:
            slots.pop("software_name")
        u = u.model_copy(update={"slots": slots})
        case = await ctx.record(case, "answered_question", data={"slot": slot, "value": value})
        case = await ctx.record(case, "understood", actor="desk", data=u.model_dump(mode="json"))
        await self._route(ctx, case, u)

    async def _thread_message(self, ctx: TurnContext) -> None:
        case = await self.cases.get(ctx.turn.thread or "")
        text = ctx.turn.text.strip()
        if case is None or not text:
            return
        async with self.locks.hold(case.conversation) as fence:
            ctx.fence = fence
            case = await self.cases.get(case.id) or case
            await self.handoff.from_tech(ctx, case, text)

    # --- clicks ---------------------------------------------------------------------
    async def _click(self, ctx: TurnContext) -> None:
        action = ctx.turn.action or ""
        if action == CHECK_ANSWERED:
            await self._on_push(ctx)
            return
        ref = await self.refs.get(ctx.turn.ref or "")
        if ref is None or ref.action != action or ref.action not in self._clicks:
            ctx.say(texts.BUTTON_UNKNOWN)
            return
        if not await self._may_press(ref, ctx.person):
            # a forwarded or replayed button: refused, and kept in the audit trail
            log.warning("click.refused", action=ref.action, case=ref.case_id)
            await self.audit.append(
                {
                    "type": "click.refused",
                    "by": ctx.person.username,
                    "action": ref.action,
                    "about_case": ref.case_id,
                    "at": self.clock.now().isoformat(),
                }
            )
            own = ref.action in {"approve", "deny"} and await self._requested_by(ref, ctx.person)
            ctx.say(texts.NO_SELF_APPROVAL if own else texts.BUTTON_NOT_YOURS)
            return
        if ref.expires_at is not None and self.clock.now() >= ref.expires_at:
            ctx.say(texts.BUTTON_EXPIRED)
            return
        case = await self.cases.get(ref.case_id) if ref.case_id else None
        conversation = case.conversation if case else ctx.turn.conversation_id
        async with self.locks.hold(conversation) as fence:
            ctx.fence = fence
            if ref.action in SINGLE_USE and not await self.refs.consume(ref.token):
                ctx.say(texts.BUTTON_USED)
                return
            if case is not None:
                case = await self.cases.get(case.id)
            await self._clicks[ref.action](ctx, ref, case)

    async def _may_press(self, ref: ButtonRef, person: Person) -> bool:
        if ref.allowed is not None:
            return person.username in ref.allowed
        if ref.role == "oncall":
            return await self.on_call(person)
        if ref.role is not None:
            return person.has_role(ref.role)
        return True

    async def _requested_by(self, ref: ButtonRef, person: Person) -> bool:
        case = await self.cases.get(ref.case_id) if ref.case_id else None
        return case is not None and case.requester == person.username

    async def on_call(self, person: Person) -> bool:
        """Whether a person may pick up escalations: the on-call role, or named on call by an
        admin with `/itdesk oncall`."""
        if person.has_role("oncall"):
            return True
        roster = await self.control.roster()
        return roster is not None and person.username in roster

    async def _on_push(self, ctx: TurnContext) -> None:
        pending = await self.stepup.pending(ctx.person.username)
        case = await self.cases.get(pending.case_id) if pending else None
        conversation = case.conversation if case else ctx.turn.conversation_id
        async with self.locks.hold(conversation) as fence:
            ctx.fence = fence
            result = await self.stepup.answer_push(ctx.person, ctx.turn.ref or "")
            case = await self.cases.get(result.case_id) if result.case_id else None
            if case is None:
                ctx.say(texts.STEP_UP_NONE)
                return
            await self.gates.on_check(ctx, case, result)

    async def _on_claim(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self.handoff.claim(ctx, case)

    async def _on_resolve(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            case = await self.handoff.resolve(ctx, case)
            if case.status == CaseStatus.RESOLVED:
                await self.answers.ask_feedback(ctx, case)

    async def _on_approval(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self.gates.on_decision(
                ctx, case, str(ref.data.get("approval")), approve=ref.action == "approve"
            )

    async def _on_undo(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is not None:
            await self.gates.on_undo(ctx, case, str(ref.data.get("action")))

    async def _on_choose(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is None or open_question(case) is None:
            ctx.say(texts.BUTTON_USED)
            return
        await self.fill_slot(ctx, case, str(ref.data["slot"]), str(ref.data["value"]))

    async def _on_menu(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        await self.new_request(
            ctx, str(ref.data.get("text", "")), intent=str(ref.data.get("intent"))
        )

    # --- scheduled work -------------------------------------------------------------
    @asynccontextmanager
    async def system_turn(
        self, job: Job, case_id: str
    ) -> AsyncIterator[tuple[TurnContext, Case | None]]:
        """A turn the desk starts itself (a scheduled job): locked like any other, its
        effects delivered through the outbound adapters."""
        case = await self.cases.get(case_id)
        requester = await self.directory.person(case.requester) if case else None
        if case is None or requester is None:
            yield TurnContext(desk=self, turn=_system_turn(job, "system"), person=_SYSTEM), None
            return
        turn = _system_turn(job, case.conversation, requester.username)
        ctx = TurnContext(desk=self, turn=turn, person=requester)
        async with self.locks.hold(case.conversation) as fence:
            ctx.fence = fence
            yield ctx, await self.cases.get(case_id)
        await self.deliver(ctx.effects)

    async def run_due_jobs(self) -> int:
        """Run every scheduled job that is due by the desk's clock."""
        return await self.scheduler.run_due()


_SYSTEM = Person(username="system", name="IT desk", email="system@invalid")


def _system_turn(job: Job, conversation: str, user: str = "system") -> Turn:
    return Turn(
        platform="system",
        event_id=f"job:{job.id}:{job.attempts}",
        user_id=user,
        conversation_id=conversation,
    )


def _exact_option(text: str, options: list[str], labels: list[str]) -> str | None:
    """The option the answer names exactly, by its id or by its button label."""
    wanted = text.strip().strip(".!").lower()
    for index, option in enumerate(options):
        label = labels[index] if index < len(labels) else option
        if wanted in {option.lower(), label.lower()}:
            return option
    return None


def _only_option_named(text: str, options: list[str], labels: list[str]) -> str | None:
    """The one option the answer names, by its id as a word or every word of its label
    ("the tower, TW-4105"). When two are named and one's label is part of the other's
    ("Engineering" in "Engineering Wiki Editors"), the longer one is meant; otherwise two
    named is no answer: guessing would act on the wrong one."""
    words = set(_words(text))
    named: dict[str, set[str]] = {}
    for index, option in enumerate(options):
        label = set(_words(labels[index] if index < len(labels) else option))
        if option.lower() in words or (label and label <= words):
            named[option] = label
    specific = [
        o for o, label in named.items() if not any(label < other for other in named.values())
    ]
    return specific[0] if len(specific) == 1 else None


def _words(text: str) -> list[str]:
    return [w.strip(".,!?;:()'\"") for w in text.lower().split()]


# Best guesses that are worth a human's attention at once even when the desk is unsure.
_INCIDENT_GUESSES = frozenset({"security_incident", "device_lost"})
_INCIDENT_GUESS_FLOOR = 0.3


def _possible_incident(u: Understanding) -> bool:
    """An unsure understanding whose best guess is a security incident or a lost device."""
    return u.intent in _INCIDENT_GUESSES and u.confidence >= _INCIDENT_GUESS_FLOOR


def _described(intent: str) -> str:
    return intent.replace("_", " ")


def _queue_of(intent: str) -> str | None:
    queues: dict[str, str | None] = {str(k): v for k, v in QUEUE_OF.items()}
    return queues.get(intent)


async def _joiner_answer(slot: str, text: str, people: list[Person]) -> str | None:
    """A typed answer to "what's their name?" or "who will be their manager?"."""
    if slot == "manager":
        found = match_person(text, people)
        return found.username if found else None
    name = " ".join(w for w in text.strip(" .!?").split() if w[:1].isalpha())
    name = name.title() if name.islower() else name
    return name if 2 <= len(name.split()) <= 4 and len(name) <= 80 else None
