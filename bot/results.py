"""What follows a plan's executed steps: what policy says comes after each (a notice to the
account's owner at every address, the roles told, how long Undo is offered), and the status
card the person gets, with Undo and feedback buttons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot import texts
from bot.actions import Executed
from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext, requester_address
from bot.conversation import feedback_buttons
from bot.events import StatusCard
from bot.models import Button, Card, CardField, Reply, new_message_id
from bot.notices import Notices
from bot.plans import Plan
from bot.ports import Directory, Outbox
from bot.resources import PlanResources
from bot.routing import FollowUp, Routing
from bot.state.refs import ButtonRefs, NewRef
from skills.registry import SkillRegistry
from verification.notify import notify_change
from verification.stepup import StepUp


@dataclass(frozen=True)
class Ends:
    """What policy says follows a plan's executed steps."""

    follow_ups: tuple[FollowUp, ...]  # one per executed step
    undo_hours: int


@dataclass(frozen=True)
class ResultDeps:
    refs: ButtonRefs
    routing: Routing
    resources: PlanResources
    directory: Directory
    outbox: Outbox
    notices: Notices
    stepup: StepUp
    skills: SkillRegistry
    clock: Clock


class ActingResults:
    def __init__(self, deps: ResultDeps) -> None:
        self._d = deps

    async def ends(self, case: Case, plan: Plan, done: list[Executed]) -> Ends:
        """What policy says follows each executed step, and how long Undo is offered."""
        d = self._d
        requester = await d.directory.person(case.requester)
        resource = await d.resources.resource(plan, await d.resources.subject(plan))
        if requester is None or resource is None:
            return Ends((), 0)
        follow_ups = tuple(
            d.routing.follow_up(requester, resource, skill=e.skill, intent=plan.intent,
                                changed=e.changed)
            for e in done
        )  # fmt: skip
        hours = d.routing.undo_hours(requester, resource, skill=plan.action, intent=plan.intent)
        return Ends(follow_ups, hours)

    async def after(
        self, ctx: TurnContext, case: Case, plan: Plan, done: list[Executed], ends: Ends
    ) -> None:
        d = self._d
        for executed, follow_up in zip(done, ends.follow_ups, strict=False):
            if follow_up.notify_owner:
                person = await d.directory.person(executed.args.get("user", ""))
                if person is not None:
                    what = texts.change_notice(executed.skill)
                    await notify_change(person, what, d.directory, d.outbox, d.clock)
                    await d.stepup.note_change(person, executed.skill)
        roles = dict.fromkeys(role for f in ends.follow_ups for role in f.notify)
        for role in roles:
            summary = "; ".join(d.skills.step(e.skill, e.args) for e in done) or plan.summary
            what = texts.say("note.role_notice", intent=plan.intent, summary=summary)
            await d.notices.tell_role(ctx, role, case.requester, what)

    async def status_card(
        self, ctx: TurnContext, case: Case, done: list[Executed], undo_hours: int
    ) -> None:
        d = self._d
        wanted: list[tuple[str, str | None, NewRef]] = []  # label, confirmation, what it does
        undoable = [e for e in done if e.inverse and e.changed] if undo_hours else []
        if len(undoable) == 1:
            undo = NewRef(
                action="undo",
                case_id=case.id,
                allowed=[case.requester],
                data={"action": undoable[0].action_id},
                expires_at=d.clock.now() + timedelta(hours=undo_hours),
            )
            wanted.append((texts.say("result.undo"), texts.say("result.undo_confirm"), undo))
        for label, action in feedback_buttons():
            wanted.append((label, None, NewRef(action=action, case_id=case.id,
                                               allowed=[case.requester])))  # fmt: skip
        tokens = await d.refs.mint_all([ref for _, _, ref in wanted])
        buttons = [
            Button(label=label, action=ref.action, ref=token, confirm=confirm)
            for (label, confirm, ref), token in zip(wanted, tokens, strict=True)
        ]
        summary = " ".join(e.summary for e in done)
        done_label = texts.say("result.done_field")
        fields = tuple(
            CardField(label=done_label, value=d.skills.step(e.skill, e.args)) for e in done
        )
        card = Card(
            kind="status",
            title=texts.say("result.done_title"),
            text=summary,
            fields=fields,
            buttons=tuple(buttons),
            case_id=case.id,
            about=case.requester,
            context=texts.say("result.undo_available", count=undo_hours) if undoable else None,
        )
        message_id = new_message_id()
        await ctx.record(case, StatusCard(message=message_id, card=card), actor="desk")
        ctx.send(requester_address(case), Reply(id=message_id, text=summary, card=card))


def strip_undo(ctx: TurnContext, case: Case) -> None:
    """Take Undo off the case's status card."""
    status_card = case.last(StatusCard)
    if status_card is not None:
        kept = tuple(b for b in status_card.card.buttons if b.action != "undo")
        card = status_card.card.model_copy(
            update={"buttons": kept, "context": texts.say("note.undone_context")}
        )
        ctx.update(
            requester_address(case), Reply(id=status_card.message, text=card.text, card=card)
        )
