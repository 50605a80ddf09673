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
from bot.state.refs import ButtonRefs

MENU_ITEMS = (
    ("I'm locked out", "account_unlock"),
    ("Reset my password", "password_reset"),
    ("Access to a group", "access_request"),
    ("Install software", "software_install"),
    ("Something's broken", "other"),
)


@dataclass(frozen=True)
class ConversationDeps:
    refs: ButtonRefs
    cases: CaseRepository


class Conversation:
    """The menu, ticket status, and clarifying questions."""

    def __init__(self, deps: ConversationDeps) -> None:
        self._d = deps

    async def menu(self, ctx: TurnContext) -> None:
        buttons = []
        for label, intent in MENU_ITEMS:
            ref = await self._d.refs.mint(
                "menu", allowed=[ctx.person.username], data={"intent": intent, "text": label}
            )
            buttons.append(Button(label=label, action="menu", ref=ref))
        ctx.say(
            texts.MENU,
            Card(
                kind="menu", title="How can I help?", text=texts.WHAT_I_DO, buttons=tuple(buttons)
            ),
        )

    async def ticket_status(self, ctx: TurnContext) -> None:
        cases = await self._d.cases.of_requester(ctx.person.username)
        recent = [c for c in cases if c.open][-5:] or cases[-3:]
        if not recent:
            ctx.say(texts.NO_OPEN_CASES)
            return
        fields = tuple(
            CardField(
                label=c.ticket_id or f"Asked {c.opened_at:%a %d %b %H:%M}",
                value=f"{_describe(c)}: {_status_label(c)}",
            )
            for c in reversed(recent)
        )
        ctx.say(
            "Here's where your requests stand:",
            Card(kind="info", title="Your requests", fields=fields),
        )

    async def ask(self, ctx: TurnContext, case: Case, question: Question) -> Case:
        buttons = []
        for label, value in question.options[:10]:
            ref = await self._d.refs.mint(
                "choose",
                case_id=case.id,
                allowed=[case.requester],
                data={"slot": question.slot, "value": value},
            )
            buttons.append(Button(label=label, action="choose", ref=ref))
        asked = Asked(
            slot=question.slot,
            options=[v for _, v in question.options],
            labels=[label for label, _ in question.options],
        )
        case = await ctx.record(case, asked)
        card = (
            Card(
                kind="choice",
                title=question.text,
                buttons=tuple(buttons),
                case_id=case.id,
                about=case.requester,
            )
            if buttons
            else None
        )
        ctx.say(question.text, card)
        return case


def _describe(case: Case) -> str:
    return (case.intent or "request").replace("_", " ")


def _status_label(case: Case) -> str:
    return case.status.value.replace("_", " ")
