"""The answers to the desk's message about a lockout (`bot.outreach`), pressed by the person
it was sent to (the buttons are addressed to them: anyone else is refused by policy, as on
any card). The first answer counts; a second press of either button changes nothing.

- Unlock me: the ordinary unlock request, as if the person had typed it, so that step-up,
  policy and the audit trail apply unchanged.
- That wasn't me: security is told at once (an urgent escalation with who, when, where and
  why, and a notice to everyone with the security role); the account stays locked.
- It was me (a risky sign-in): noted, nothing to do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import texts
from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import Understood
from bot.handoff import Handoff
from bot.intake import Intake
from bot.models import Address, Reply, Understanding
from bot.notices import Notices
from bot.outreach import record
from bot.outreach_notice import NOT_ME, UNLOCK, WAS_ME, answered, notice, when
from bot.ports import Lockout
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository
from bot.state.outreach import OutreachRecords
from bot.state.refs import ButtonRef

Handler = Callable[[TurnContext, ButtonRef, Case | None], Awaitable[None]]  # a ClickHandler


@dataclass(frozen=True)
class OutreachAnswerDeps:
    records: OutreachRecords
    intake: Intake
    handoff: Handoff
    notices: Notices
    cases: CaseRepository
    audit: AuditLog
    clock: Clock


class OutreachAnswers:
    def __init__(self, deps: OutreachAnswerDeps) -> None:
        self._d = deps

    def handlers(self) -> dict[str, Handler]:
        """The click handler of each button of the message, by action."""
        return {UNLOCK: self._on_unlock, NOT_ME: self._on_not_me, WAS_ME: self._on_was_me}

    async def _on_unlock(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if await self._first_answer(ctx, ref, UNLOCK) is not None:
            text = texts.say("outreach.unlock_request")
            await self._d.intake.new_request(ctx, text, intent="account_unlock")

    async def _on_was_me(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        if await self._first_answer(ctx, ref, WAS_ME) is not None:
            ctx.say(texts.say("outreach.was_me_reply"))

    async def _on_not_me(self, ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        lockout = await self._first_answer(ctx, ref, NOT_ME)
        if lockout is None:
            return
        d, person = self._d, ctx.person
        opened = await d.cases.open(
            requester=person.username,
            conversation=ctx.turn.conversation_id,
            platform=ctx.turn.platform,
            text=texts.say("outreach.case_text", notice=notice(lockout)),
            fence=ctx.fence.pair() if ctx.fence else None,
            correlation_id=ctx.turn.correlation_id,
            event_id=ctx.turn.event_id,
        )
        u = Understanding(intent="security_incident", confidence=1.0, queue="security")
        opened = await ctx.record(opened, Understood.of(u), actor="desk")
        at = when(lockout.at)
        locked = lockout.kind == "locked"
        what = texts.say("outreach.what_locked" if locked else "outreach.what_risk")
        checked = [
            texts.say("outreach.note_who", name=person.name, username=person.username),
            texts.say("outreach.note_when", time=at),
            texts.say("outreach.note_source", source=lockout.source),
            *([texts.say("outreach.note_reason", reason=lockout.reason)] if lockout.reason else []),
            texts.say("outreach.note_kept" if locked else "outreach.note_kept_risk"),
        ]
        summary = texts.say("outreach.summary", name=person.name, what=what, time=at,
                            source=lockout.source)  # fmt: skip
        await d.handoff.escalate(
            ctx, opened, queue="security", priority="urgent", summary=summary, checked=checked,
            next_step=texts.say("outreach.next_step", source=lockout.source),
        )  # fmt: skip
        said = texts.say("outreach.security_notice", what=what, time=at)
        await d.notices.tell_role(ctx, "security", person.username, said)
        ctx.say(texts.say("outreach.not_me_reply" if locked else "outreach.not_me_reply_risk"))

    async def _first_answer(self, ctx: TurnContext, ref: ButtonRef, action: str) -> Lockout | None:
        """The lockout the button is about, when this is the person's first answer to it
        (recorded, audited, and the message's buttons taken away); else None, said so."""
        d = self._d
        lockout = Lockout.model_validate(ref.data["lockout"])
        if ctx.person.username != lockout.username:  # policy refused it already; twice safe
            ctx.say(texts.say("button.not_yours"))
            return None
        if await d.records.answer(lockout.id, action) is not None:
            ctx.say(texts.say("outreach.already_answered"))
            return None
        await d.audit.append(record("outreach.answered", lockout, d.clock, answer=action,
                                    by=ctx.person.username))  # fmt: skip
        done = answered(lockout, action)
        message = str(ref.data.get("message") or "")
        if message:
            ctx.update(Address.dm(lockout.username), Reply(id=message, text=done.text, card=done))
        return lockout
