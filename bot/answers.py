"""Answers that need no action: a runbook from the knowledge base with "That fixed it" /
"Still broken", and the one-tap satisfaction question after a case is resolved ("Helped" /
"Didn't help", the second of which reopens the case to a human)."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.cases import Case, CaseStatus
from bot.context import TurnContext, requester_address
from bot.conversation import feedback_buttons
from bot.events import Feedback, RunbookSent
from bot.handoff import Handoff
from bot.knowledge import Runbooks
from bot.models import Button, Card, Reply, new_message_id
from bot.state.refs import ButtonRef, ButtonRefs, NewRef


@dataclass(frozen=True)
class AnswerDeps:
    knowledge: Runbooks
    refs: ButtonRefs
    handoff: Handoff


class Answers:
    """Runbook answers and feedback on them."""

    def __init__(self, deps: AnswerDeps) -> None:
        self._d = deps

    async def runbook(self, ctx: TurnContext, case: Case, queue: str, intent: str) -> None:
        hits = self._d.knowledge.search(case.text, k=1, intent=intent)
        if not hits:
            await self._d.handoff.escalate(
                ctx,
                case,
                queue=queue,
                summary=case.text[:200],
                checked=[texts.say("note.no_runbook")],
            )
            return
        title, body, _, url = hits[0]
        fixed, broken = texts.say("runbook.fixed"), texts.say("runbook.still_broken")
        answers = ((fixed, "helpful"), (broken, "not_helpful"))
        tokens = await self._d.refs.mint_all([
            NewRef(action=action, case_id=case.id, allowed=[case.requester],
                   data={"runbook": title})
            for _, action in answers
        ])  # fmt: skip
        buttons = [
            Button(
                label=label,
                action=action,
                ref=ref,
                style="primary" if action == "helpful" else "default",
            )
            for (label, action), ref in zip(answers, tokens, strict=True)
        ]
        card = Card(
            kind="runbook",
            title=title,
            text=body,
            buttons=tuple(buttons),
            context=texts.say("runbook.source_link", title=title, url=url)
            if url
            else texts.say("runbook.source", title=title),
            case_id=case.id,
            about=case.requester,
        )
        message_id = new_message_id()
        sent = RunbookSent(title=title, message=message_id, card=card)
        case = await ctx.record(case, sent, actor="desk", status=CaseStatus.ANSWERED)
        ctx.send(
            requester_address(case),
            Reply(id=message_id, text=texts.say("runbook.intro"), card=card),
        )

    async def on_runbook_feedback(
        self, ctx: TurnContext, ref: ButtonRef, case: Case | None
    ) -> None:
        if case is None:
            return
        title = str(ref.data.get("runbook", ""))
        helped = ref.action == "helpful"
        self.strip_buttons(ctx, case, texts.say("runbook.thanks"))
        if helped:
            case = await ctx.record(case, Feedback(helped=True, runbook=title))
            ctx.say(texts.say("result.helped_thanks"))
            return
        case = await ctx.record(case, Feedback(helped=False, runbook=title))
        u = case.understood()
        await self._d.handoff.escalate(
            ctx,
            case,
            queue=(u.queue if u and u.queue else "other"),
            summary=case.text[:200],
            checked=[texts.say("note.runbook_failed", title=title)],
        )

    async def on_feedback(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if case is None:
            return
        helped = ref.action == "helped"
        case = await ctx.record(case, Feedback(helped=helped))
        if helped or case.status not in {CaseStatus.RESOLVED, CaseStatus.ANSWERED}:
            ctx.say(texts.say("result.helped_thanks") if helped else texts.say("result.reopened"))
            return
        u = case.understood()
        ctx.say(texts.say("result.reopened"))
        await self._d.handoff.escalate(
            ctx,
            case,
            queue=(u.queue if u and u.queue else "other"),
            summary=texts.say("note.reopened", text=case.text[:180]),
            checked=[texts.say("note.fix_didnt_help")],
        )

    async def ask_feedback(self, ctx: TurnContext, case: Case) -> None:
        asked = feedback_buttons()
        who = [case.requester]
        tokens = await self._d.refs.mint_all(
            [NewRef(action=action, case_id=case.id, allowed=who) for _, action in asked]
        )
        buttons = [
            Button(label=label, action=action, ref=ref)
            for (label, action), ref in zip(asked, tokens, strict=True)
        ]
        ctx.send(
            requester_address(case),
            ctx.text_reply(
                texts.say("result.feedback_ask"),
                Card(
                    kind="info",
                    title=texts.say("result.feedback_ask"),
                    buttons=tuple(buttons),
                    case_id=case.id,
                    about=case.requester,
                ),
            ),
        )

    def strip_buttons(self, ctx: TurnContext, case: Case, context: str) -> None:
        """Take the buttons off the case's runbook answer."""
        sent = case.last(RunbookSent)
        if sent is not None:
            card = sent.card.model_copy(update={"buttons": (), "context": context})
            ctx.update(requester_address(case), Reply(id=sent.message, text=card.title, card=card))
