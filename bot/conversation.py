"""What the desk says before a case has a plan: the menu of what it can do, where a person's
requests stand, and one clarifying question with its candidates as buttons."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.cases import Case
from bot.context import TurnContext
from bot.events import Asked
from bot.models import Button, Card, CardField
from bot.plans import Question
from bot.state.cases import CaseRepository
from bot.state.refs import ButtonRefs, NewRef
from bot.texts import Catalogue

MENU_ITEMS = ("account_unlock", "password_reset", "access_request", "software_install", "other")


@dataclass(frozen=True)
class ConversationDeps:
    refs: ButtonRefs
    cases: CaseRepository
    texts: Catalogue  # the desk's sentences and the skills' (their questions)


class Conversation:
    """The menu, ticket status, and clarifying questions."""

    def __init__(self, deps: ConversationDeps) -> None:
        self._d = deps

    async def menu(self, ctx: TurnContext) -> None:
        labels = [(intent, texts.say(f"menu.item.{intent}")) for intent in MENU_ITEMS]
        tokens = await self._d.refs.mint_all([
            NewRef(action="menu", allowed=[ctx.person.username],
                   data={"intent": intent, "text": label})
            for intent, label in labels
        ])  # fmt: skip
        buttons = [
            Button(label=label, action="menu", ref=ref)
            for (_, label), ref in zip(labels, tokens, strict=True)
        ]
        ctx.say(
            texts.say("menu.intro"),
            Card(
                kind="menu",
                title=texts.say("menu.title"),
                text=texts.say("menu.what_i_do"),
                buttons=tuple(buttons),
            ),
        )

    async def ticket_status(self, ctx: TurnContext) -> None:
        cases = await self._d.cases.of_requester(ctx.person.username)
        recent = [c for c in cases if c.open][-5:] or cases[-3:]
        if not recent:
            ctx.say(texts.say("status.none_open"))
            return
        fields = tuple(
            CardField(
                label=c.ticket_id
                or texts.say("status.asked_at", at=f"{c.opened_at:%a %d %b %H:%M}"),
                value=texts.say("status.line", request=_describe(c), status=_status_label(c)),
            )
            for c in reversed(recent)
        )
        ctx.say(
            texts.say("status.intro"),
            Card(kind="info", title=texts.say("status.title"), fields=fields),
        )

    async def ask(self, ctx: TurnContext, case: Case, question: Question) -> Case:
        shown = question.options[:10]
        tokens = await self._d.refs.mint_all([
            NewRef(action="choose", case_id=case.id, allowed=[case.requester],
                   data={"slot": question.slot, "value": value})
            for _, value in shown
        ])  # fmt: skip
        buttons = [
            Button(label=label, action="choose", ref=ref)
            for (label, _), ref in zip(shown, tokens, strict=True)
        ]
        asked = Asked(
            slot=question.slot,
            options=[v for _, v in question.options],
            labels=[label for label, _ in question.options],
        )
        case = await ctx.record(case, asked)
        asking = self._d.texts.render(question.text)
        card = (
            Card(
                kind="choice",
                title=asking,
                buttons=tuple(buttons),
                case_id=case.id,
                about=case.requester,
            )
            if buttons
            else None
        )
        ctx.say(asking, card)
        return case


def feedback_buttons() -> tuple[tuple[str, str], ...]:
    """The one-tap satisfaction question's buttons: (label, action)."""
    return ((texts.say("result.helped"), "helped"), (texts.say("result.didnt_help"), "didnt_help"))


def _describe(case: Case) -> str:
    return (case.intent or "request").replace("_", " ")


def _status_label(case: Case) -> str:
    return case.status.value.replace("_", " ")
