"""Handing a case to a human: a ticket, a thread in the on-call channel with a Claim button,
the claiming technician's replies relayed to the requester and back, and Resolve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from bot import texts
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.events import Claimed, Escalated, Relayed, Resolved
from bot.models import (
    Address,
    Button,
    Card,
    CardField,
    Person,
    Priority,
    Queue,
    Reply,
    new_message_id,
)
from bot.oncall import OnCall
from bot.ports import Directory, NewTicket, Tickets
from bot.state.refs import ButtonRefs
from bot.summaries import Summaries


@dataclass(frozen=True)
class HandoffDeps:
    directory: Directory
    tickets: Tickets
    refs: ButtonRefs
    summaries: Summaries
    oncall: OnCall
    oncall_channel: str


class Handoff:
    """Escalation threads and their life: claim, relay both ways, resolve."""

    def __init__(self, deps: HandoffDeps) -> None:
        self._d = deps

    @property
    def oncall_channel(self) -> str:
        return self._d.oncall_channel

    async def escalate(
        self,
        ctx: TurnContext,
        case: Case,
        *,
        queue: str,
        priority: str = "normal",
        summary: str,
        checked: list[str] | None = None,
        next_step: str | None = None,
    ) -> Case:
        d = self._d
        queue = _queue(queue)
        priority = _priority(priority)
        requester = await d.directory.person(case.requester)
        checked = list(checked or [])
        # A caller's own headline ("Undo requested: ...", "Three failed checks ...") stands;
        # a plain copy of the person's words is replaced by a summary written for the tech.
        specific = not case.text.strip().startswith(summary.strip().rstrip("…"))
        written, suggested = await d.summaries.summarise(
            case.text,
            case.intent or "other",
            checked,
            slots={k: str(v) for k, v in case.slots.items()},
            requester=requester,
            confident=case.intent is not None,
        )
        summary = summary if specific else written
        next_step = next_step or suggested
        ticket = await d.tickets.open(
            NewTicket(
                case_id=case.id,
                requester=case.requester,
                queue=queue,
                priority=priority,
                summary=summary,
                details=_details(case, checked, next_step),
            )
        )
        claim = await d.refs.mint("claim", case_id=case.id, role="oncall")
        card = Card(
            kind="escalation",
            title=f"{texts.QUEUE_LABELS[queue].capitalize()} · {priority} · {ticket.id}",
            text=summary,
            fields=_fields(requester, case, queue, priority, checked, next_step),
            buttons=(Button(label="Claim", action="claim", ref=claim, style="primary"),),
            case_id=case.id,
            about=case.requester,
        )
        message_id = new_message_id()
        escalated = Escalated(queue=queue, priority=priority, ticket_id=ticket.id,
                              thread_message=message_id, summary=summary, card=card)  # fmt: skip
        case = await ctx.record(case, escalated, status=CaseStatus.ESCALATED)
        ctx.send(
            Address.case_thread(d.oncall_channel, case.id),
            Reply(id=message_id, text=f"New escalation {ticket.id}: {summary}", card=card),
        )
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(texts.escalated(ticket.id, texts.QUEUE_LABELS[queue])),
        )
        return case

    async def claim(self, ctx: TurnContext, case: Case) -> Case:
        d, tech = self._d, ctx.person
        if not await d.oncall.may("claim_case", tech, case):
            ctx.say(texts.CLAIM_NEEDS_ONCALL)
            return case
        if case.status != CaseStatus.ESCALATED:
            holder = await d.directory.person(case.claimed_by or "")
            ctx.say(
                texts.already_claimed(holder.name if holder else "Someone")
                if case.status == CaseStatus.CLAIMED
                else texts.CASE_CLOSED
            )
            return case
        case = await ctx.record(case, Claimed(), status=CaseStatus.CLAIMED)
        if case.ticket_id:
            await d.tickets.update(case.ticket_id, status="in_progress", assignee=tech.username)
        resolve = await d.refs.mint("resolve", case_id=case.id, allowed=[tech.username])
        self.update_thread_card(
            ctx,
            case,
            claimed_by=tech.name,
            buttons=(Button(label="Resolve", action="resolve", ref=resolve, style="primary"),),
        )
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(texts.claimed_for_requester(tech.name, case.ticket_id or "")),
        )
        return case

    async def resolve(self, ctx: TurnContext, case: Case) -> Case:
        d, tech = self._d, ctx.person
        if case.status != CaseStatus.CLAIMED or not await d.oncall.may("resolve_case", tech, case):
            ctx.say(texts.NOT_YOUR_CASE)
            return case
        case = await ctx.record(case, Resolved(), status=CaseStatus.RESOLVED)
        if case.ticket_id:
            await d.tickets.update(case.ticket_id, status="resolved")
        self.update_thread_card(ctx, case, claimed_by=tech.name, resolved=True, buttons=())
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(texts.resolved_for_requester(tech.name, case.ticket_id or "")),
        )
        return case

    async def from_tech(self, ctx: TurnContext, case: Case, text: str) -> Case:
        tech = ctx.person
        if case.status != CaseStatus.CLAIMED:
            ctx.say(texts.CASE_CLOSED if not case.open else texts.CLAIM_FIRST)
            return case
        if not await self._d.oncall.may("relay_reply", tech, case):
            ctx.say(texts.NOT_YOUR_CASE)
            return case
        case = await ctx.record(case, Relayed(sender="tech", text=text))
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(texts.relayed_from_tech(tech.first_name, text)),
        )
        return case

    async def from_requester(self, ctx: TurnContext, case: Case, text: str) -> Case:
        case = await ctx.record(case, Relayed(sender="requester", text=text))
        ctx.send(
            Address.case_thread(self._d.oncall_channel, case.id),
            ctx.text_reply(texts.relayed_from_requester(ctx.person.first_name, text)),
        )
        return case

    def update_thread_card(
        self,
        ctx: TurnContext,
        case: Case,
        *,
        claimed_by: str | None = None,
        resolved: bool = False,
        buttons: tuple[Button, ...] = (),
    ) -> None:
        """The case's card in the on-call thread, updated with who has it and its buttons."""
        escalation = case.last(Escalated)
        if escalation is None:
            return
        state = "Resolved" if resolved else "Claimed"
        context = f"{state} by {claimed_by}" if claimed_by else None
        card = escalation.card.model_copy(update={"buttons": buttons, "context": context})
        ctx.update(
            Address.case_thread(self._d.oncall_channel, case.id),
            Reply(id=escalation.thread_message, text=card.title, card=card),
        )


def next_step_for(queue: str) -> str:
    """What a technician of a queue would usually do next with a case the desk hands over."""
    return {
        "accounts": "Confirm the person's identity by phone, then act in the directory.",
        "access": "Check with the group owner whether access is appropriate.",
        "software": "Check licensing and compatibility, then install or offer an alternative.",
        "security": "Contact the person now; check sign-in logs and the device's last location.",
        "hardware": "Arrange a repair or a loaner device.",
        "network": "Check the person's connection details and recent network incidents.",
    }.get(queue, "Contact the person to understand what they need.")


def _queue(name: str) -> Queue:
    return name if name in get_args(Queue) else "other"  # type: ignore[return-value]


def _priority(name: str) -> Priority:
    return name if name in get_args(Priority) else "normal"  # type: ignore[return-value]


def _fields(
    requester: Person | None,
    case: Case,
    queue: str,
    priority: str,
    checked: list[str] | None,
    next_step: str | None,
) -> tuple[CardField, ...]:
    who = f"{requester.name} ({requester.title})" if requester else case.requester
    fields = [
        CardField(label="Requester", value=who),
        CardField(label="Queue", value=queue),
        CardField(label="Priority", value=priority),
        CardField(label="They said", value=_clip(case.text, 300)),
    ]
    if checked:
        fields.append(CardField(label="Desk checked", value="; ".join(checked)))
    if next_step:
        fields.append(CardField(label="Suggested next step", value=next_step))
    return tuple(fields)


def _details(case: Case, checked: list[str] | None, next_step: str | None) -> str:
    lines = [f"Request: {case.text}"]
    if checked:
        lines += ["Desk checked:", *(f"- {c}" for c in checked)]
    if next_step:
        lines.append(f"Suggested next step: {next_step}")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
