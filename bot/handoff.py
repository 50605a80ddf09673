"""Handing a case to a human: a ticket, a thread in the on-call channel with a Claim button,
the claiming technician's replies relayed to the requester and back, and Resolve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import structlog

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
from bot.ports import Directory, NewTicket, OutcomeUnknown, Tickets
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


log = structlog.get_logger("itdesk.handoff")


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
        ticket_id = await self._open_ticket(
            NewTicket(
                case_id=case.id,
                requester=case.requester,
                queue=queue,
                priority=priority,
                summary=summary,
                details=_details(case, checked, next_step),
            )
        )
        if not ticket_id:
            checked.append(texts.say("handoff.no_ticket_note"))
        claim = await d.refs.mint("claim", case_id=case.id, role="oncall")
        card = Card(
            kind="escalation",
            title=texts.say(
                "handoff.card_title",
                queue=texts.queue_label(queue).capitalize(),
                priority=priority,
                ticket_id=ticket_id or texts.say("handoff.no_ticket"),
            ),
            text=summary,
            fields=_fields(requester, case, queue, priority, checked, next_step),
            buttons=(
                Button(
                    label=texts.say("handoff.claim"), action="claim", ref=claim, style="primary"
                ),
            ),
            case_id=case.id,
            about=case.requester,
        )
        message_id = new_message_id()
        escalated = Escalated(queue=queue, priority=priority, ticket_id=ticket_id,
                              thread_message=message_id, summary=summary, card=card)  # fmt: skip
        case = await ctx.record(case, escalated, status=CaseStatus.ESCALATED)
        ctx.send(
            Address.case_thread(d.oncall_channel, case.id),
            Reply(
                id=message_id,
                card=card,
                text=texts.say(
                    "handoff.new_escalation",
                    ticket_id=ticket_id or texts.say("handoff.no_ticket"),
                    summary=summary,
                ),
            ),
        )
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(
                texts.say("handoff.escalated", ticket_id=ticket_id, queue=texts.queue_label(queue))
                if ticket_id
                else texts.say("handoff.escalated_untracked", queue=texts.queue_label(queue))
            ),
        )
        return case

    async def _open_ticket(self, ticket: NewTicket) -> str:
        """The ticket's id, or "" when the ticket system refused it (the desk's credentials
        are wrong or lack a role, it is down for good): the case goes to a human all the
        same, and the on-call thread says no ticket was opened. A lost answer is raised: the
        turn is retried."""
        try:
            return (await self._d.tickets.open(ticket)).id
        except (TimeoutError, ConnectionError, OutcomeUnknown):
            raise
        except Exception as exc:
            log.error("handoff.ticket_refused", case=ticket.case_id,
                      error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
            return ""

    async def claim(self, ctx: TurnContext, case: Case) -> Case:
        d, tech = self._d, ctx.person
        if not await d.oncall.may("claim_case", tech, case):
            ctx.say(texts.say("handoff.claim_needs_oncall"))
            return case
        if case.status != CaseStatus.ESCALATED:
            holder = await d.directory.person(case.claimed_by or "")
            ctx.say(
                texts.say(
                    "handoff.already_claimed",
                    name=holder.name if holder else texts.say("handoff.someone"),
                )
                if case.status == CaseStatus.CLAIMED
                else texts.say("handoff.case_closed")
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
            buttons=(
                Button(
                    label=texts.say("handoff.resolve"),
                    action="resolve",
                    ref=resolve,
                    style="primary",
                ),
            ),
        )
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(
                texts.say("handoff.claimed", name=tech.name, ticket_id=case.ticket_id or "")
            ),
        )
        return case

    async def resolve(self, ctx: TurnContext, case: Case) -> Case:
        d, tech = self._d, ctx.person
        if case.status != CaseStatus.CLAIMED or not await d.oncall.may("resolve_case", tech, case):
            ctx.say(texts.say("handoff.not_your_case"))
            return case
        case = await ctx.record(case, Resolved(), status=CaseStatus.RESOLVED)
        if case.ticket_id:
            await d.tickets.update(case.ticket_id, status="resolved")
        self.update_thread_card(ctx, case, claimed_by=tech.name, resolved=True, buttons=())
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(
                texts.say("handoff.resolved", name=tech.name, ticket_id=case.ticket_id or "")
            ),
        )
        return case

    async def from_tech(self, ctx: TurnContext, case: Case, text: str) -> Case:
        tech = ctx.person
        if case.status != CaseStatus.CLAIMED:
            ctx.say(
                texts.say("handoff.case_closed")
                if not case.open
                else texts.say("handoff.claim_first")
            )
            return case
        if not await self._d.oncall.may("relay_reply", tech, case):
            ctx.say(texts.say("handoff.not_your_case"))
            return case
        case = await ctx.record(case, Relayed(sender="tech", text=text))
        ctx.send(
            Address.dm(case.requester),
            ctx.text_reply(texts.say("handoff.from_tech", name=tech.first_name, text=text)),
        )
        await self._in_ticket(case, texts.say("handoff.ticket_from", name=tech.name, text=text))
        return case

    async def from_requester(self, ctx: TurnContext, case: Case, text: str) -> Case:
        case = await ctx.record(case, Relayed(sender="requester", text=text))
        ctx.send(
            Address.case_thread(self._d.oncall_channel, case.id),
            ctx.text_reply(
                texts.say("handoff.from_requester", name=ctx.person.first_name, text=text)
            ),
        )
        await self._in_ticket(case, texts.say("handoff.ticket_from", name=ctx.person.name,
                                              text=text))  # fmt: skip
        return case

    async def _in_ticket(self, case: Case, comment: str) -> None:
        """What was said in chat, as a requester-visible comment on the case's ticket. The
        chat relay is what the person and the technician rely on, so a ticket system that
        cannot take it now only leaves the comment out (and says so in the log)."""
        if not case.ticket_id:
            return
        try:
            await self._d.tickets.update(case.ticket_id, comment=comment)
        except Exception:
            log.warning("handoff.ticket_comment_failed", case=case.id, ticket=case.ticket_id,
                        exc_info=True)  # fmt: skip

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
        state = texts.say("handoff.resolved_state" if resolved else "handoff.claimed_state")
        context = (
            texts.say("handoff.state_by", state=state, name=claimed_by) if claimed_by else None
        )
        card = escalation.card.model_copy(update={"buttons": buttons, "context": context})
        ctx.update(
            Address.case_thread(self._d.oncall_channel, case.id),
            Reply(id=escalation.thread_message, text=card.title, card=card),
        )


def next_step_for(queue: str) -> str:
    """What a technician of a queue would usually do next with a case the desk hands over."""
    key = f"handoff.next_step.{queue}"
    return texts.say(key if texts.DESK.has(key) else "handoff.next_step.other")


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
    who = (
        texts.say("handoff.person", name=requester.name, title=requester.title)
        if requester
        else case.requester
    )
    fields = [
        CardField(label=texts.say("handoff.requester_field"), value=who),
        CardField(label=texts.say("handoff.queue_field"), value=queue),
        CardField(label=texts.say("handoff.priority_field"), value=priority),
        CardField(label=texts.say("handoff.said_field"), value=_clip(case.text, 300)),
    ]
    if checked:
        fields.append(CardField(label=texts.say("handoff.checked_field"), value="; ".join(checked)))
    if next_step:
        fields.append(CardField(label=texts.say("handoff.next_step_field"), value=next_step))
    return tuple(fields)


def _details(case: Case, checked: list[str] | None, next_step: str | None) -> str:
    lines = [texts.say("handoff.ticket_request", text=case.text)]
    if checked:
        lines.append(texts.say("handoff.ticket_checked"))
        lines += [texts.say("handoff.ticket_checked_item", item=c) for c in checked]
    if next_step:
        lines.append(texts.say("handoff.ticket_next_step", next_step=next_step))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
