"""Playing a scenario's steps against a desk, the way people on a chat platform would.

Every step becomes a real `Turn` fed to `Desk.handle` (platform `scenario`, the username as
the user id, `dm:<username>` as the conversation; the on-call channel is `channel:<name>` with
the case id as thread). Every turn is delivered twice with the same event id, as a platform
retries, and the retry must change nothing; every click is also clicked a second time (a
double click), which must not act again. A step that cannot be performed (no card to press,
no pending check) ends the scenario with a `StepFailedError` naming the step and the reason;
lapses of the desk found on the way are collected in `failures` and the scenario goes on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.chat.recording import Message, RecordingChat
from adapters.checks.sandbox import SandboxChecks
from bot import texts
from bot.cases import Case, CaseStatus
from bot.clock import ManualClock
from bot.models import Button, Effect, Turn, TurnKind
from bot.ports import Directory
from bot.scenarios.actions import ACTION_EXECUTED, audit_records
from bot.scenarios.steps import (
    Claim,
    Command,
    Decide,
    Feedback,
    ForgedApproval,
    Resolve,
    Say,
    Step,
    ThreadReply,
    Undo,
    Verify,
    Wait,
)
from bot.scheduler import advance
from bot.wiring import WiredDesk
from verification.stepup import CHECK_ANSWERED

PLATFORM = "scenario"


class StepFailedError(Exception):
    """A step could not be performed; the scenario stops here."""


class Driver:
    """Feeds one scenario's steps to a desk and records what it said."""

    def __init__(
        self, desk: WiredDesk, chat: RecordingChat, clock: ManualClock, phones: SandboxChecks
    ) -> None:
        self.desk = desk
        self.chat = chat
        self.clock = clock
        self.phones = phones
        self.directory: Directory = desk.directory
        self.channel = desk.oncall_channel
        self.failures: list[str] = []
        self.steps_done = 0
        self._events = 0

    async def run(self, steps: Sequence[Step]) -> None:
        """Perform every step in order; raises `StepFailedError` at the first that cannot be."""
        for step in steps:
            self.chat.during = step.label
            await self.perform(step)
            self.steps_done = step.number

    async def perform(self, step: Step) -> None:
        match step:
            case Wait(delta=delta):
                await advance(self.clock, self.desk.scheduler, delta)
                return
            case Say(user=user, text=text):
                await self._send(step, self._turn(user, TurnKind.MESSAGE, text=text))
            case Command(user=user, text=text):
                await self._send(step, self._turn(user, TurnKind.COMMAND, text=text))
            case Verify(user=user, passes=passes):
                await self._verify(step, user, passes)
            case Decide(user=user, approve=approve):
                word = "approve" if approve else "deny"
                oncall = await self._on_call(user)
                card = self.chat.approval_for(user, word, oncall=oncall)
                if card is None:
                    raise StepFailedError(f"{step.label}: {user} has no open approval card")
                await self._press(step, user, card, word)
            case Undo(user=user):
                card = self.chat.undo_offer_for(user)
                if card is None:
                    raise StepFailedError(f"{step.label}: no status card offers {user} Undo")
                await self._press(step, user, card, "undo")
            case Feedback(user=user, helpful=helpful):
                word = "helpful" if helpful else "not-helpful"
                card = self.chat.runbook_answer_for(user, word)
                if card is None:
                    raise StepFailedError(f"{step.label}: {user} has no runbook answer open")
                await self._press(step, user, card, word)
            case ForgedApproval(user=user, requester=requester):
                await self._forged_approval(step, user, requester)
            case Claim(user=user):
                if not await self._on_call(user):
                    raise StepFailedError(f"{step.label}: {user} is not on call")
                card = self.chat.unclaimed_escalation()
                if card is None:
                    raise StepFailedError(f"{step.label}: there is no unclaimed escalation")
                await self._press(step, user, card, "claim")
            case Resolve(user=user):
                card, _ = await self._claimed_by(step, user)
                await self._press(step, user, card, "resolve")
            case ThreadReply(user=user, text=text):
                await self._thread_reply(step, user, text)
        # the background worker would run whatever the turn scheduled for now
        await self.desk.scheduler.run_due()

    # --- step helpers -------------------------------------------------------------------
    async def _verify(self, step: Step, user: str, passes: bool) -> None:
        """Answer the desk's pending check as the person does: a push on the phone (then the
        phone's app tells the desk to look), a code read off the phone and typed in chat."""
        challenge = await self.desk.stepup.pending(user)
        if challenge is None or challenge.check_id is None:
            raise StepFailedError(f"{step.label}: the desk has no pending check for {user}")
        check = challenge.check_id
        if challenge.kind == "push":
            await self.phones.answer(check, approve=passes)
            await self._send(
                step, self._turn(user, TurnKind.CLICK, action=CHECK_ANSWERED, ref=check)
            )
            return
        item = await self.phones.delivered(check)
        if item is None or not item.secret:
            raise StepFailedError(f"{step.label}: no code reached {user}'s phone")
        text = item.secret if passes else wrong_code(item.secret)
        await self._send(step, self._turn(user, TurnKind.MESSAGE, text=text))

    async def _forged_approval(self, step: Step, user: str, requester: str) -> None:
        card = self.chat.approval_about(requester)
        if card is None:
            raise StepFailedError(
                f"{step.label}: there is no open approval card about {requester}'s request"
            )
        case_id = card.card.case_id if card.card else None
        before = await self._status(case_id)
        mark = await self._audit_len()
        await self._press(step, user, card, "approve", where=f"dm:{user}")
        acted = [
            r
            for r in await audit_records(self.desk.audit, mark)
            if r.get("type") == ACTION_EXECUTED
        ]
        after = await self._status(case_id)
        if acted or before != after:
            self.failures.append(
                f"{step.label}: the desk accepted an approval from {user}, who "
                f"was not the approver (case went {before} -> {after}, "
                f"{len(acted)} action(s) executed)"
            )

    async def _thread_reply(self, step: Step, user: str, text: str) -> None:
        _, case = await self._claimed_by(step, user)
        mark = self.chat.mark()
        turn = self._turn(
            user, TurnKind.MESSAGE, text=text, where=f"channel:{self.channel}", thread=case.id
        )
        await self._send(step, turn)
        reached = any(
            d.place.kind == "dm" and d.place.name == case.requester and text in d.effect.reply.text
            for d in self.chat.since(mark)
        )
        if not reached:
            self.failures.append(f"{step.label}: the reply did not reach {case.requester}")

    async def _claimed_by(self, step: Step, user: str) -> tuple[Message, Case]:
        """The escalation card and case of the newest case `user` has claimed."""
        for card in self.chat.escalation_cards():
            case_id = card.card.case_id if card.card else None
            case = await self.desk.cases.get(case_id) if case_id else None
            if case and case.status == CaseStatus.CLAIMED and case.claimed_by == user:
                return card, case
        raise StepFailedError(f"{step.label}: {user} holds no claimed case")

    async def _press(
        self, step: Step, user: str, message: Message, word: str, *, where: str | None = None
    ) -> None:
        button: Button | None = message.button(word)
        if button is None:
            raise StepFailedError(f"{step.label}: the card has no {word} button")
        place, thread = message.place, None
        if where is None and place.kind == "channel":
            where, thread = f"channel:{place.name}", place.thread
        turn = self._turn(
            user, TurnKind.CLICK, action=button.action, ref=button.ref, where=where, thread=thread
        )
        await self._send(step, turn)

    # --- delivery -----------------------------------------------------------------------
    def _turn(
        self,
        user: str,
        kind: TurnKind,
        *,
        text: str = "",
        action: str | None = None,
        ref: str | None = None,
        where: str | None = None,
        thread: str | None = None,
    ) -> Turn:
        return Turn(
            platform=PLATFORM,
            event_id=self._event_id(),
            user_id=user,
            conversation_id=where or f"dm:{user}",
            kind=kind,
            text=text,
            action=action,
            ref=ref,
            thread=thread,
            received_at=self.clock.now(),
        )

    def _event_id(self) -> str:
        self._events += 1
        return f"Ev{self._events:05d}"

    async def _send(self, step: Step, turn: Turn) -> list[Effect]:
        """Deliver `turn`, then again as a retry (same event id), then, for a click, once
        more as a double click (a new event id): the retry must change nothing at all and
        the double click must not act again."""
        effects = await self.desk.handle(turn)
        self.chat.record(effects)
        if any(e.reply.text == texts.say("try_again") for e in effects):
            self.failures.append(
                f"{step.label}: the desk failed on this turn (it answered "
                "'something went wrong'; see the log)"
            )
        chat_mark, audit_mark = self.chat.mark(), await self._audit_len()
        retry = await self.desk.handle(turn)
        self.chat.record(retry)
        said, changed = self.chat.since(chat_mark), await audit_records(self.desk.audit, audit_mark)
        if said or changed:
            self.failures.append(
                f"{step.label}: the same event delivered twice was handled twice "
                f"({len(said)} message(s), {len(changed)} case event(s) the second time)"
            )
        if turn.kind == TurnKind.CLICK:
            audit_mark = await self._audit_len()
            again = turn.model_copy(update={"event_id": self._event_id()})
            self.chat.record(await self.desk.handle(again))
            repeated = [
                _event_name(r)
                for r in await audit_records(self.desk.audit, audit_mark)
                if r.get("type") == ACTION_EXECUTED or r.get("status")
            ]
            if repeated:
                self.failures.append(
                    f"{step.label}: a second click on the same button acted "
                    f"again ({', '.join(repeated)})"
                )
        return effects

    async def _audit_len(self) -> int:
        return len(await audit_records(self.desk.audit))

    async def _status(self, case_id: str | None) -> str | None:
        case = await self.desk.cases.get(case_id) if case_id else None
        return case.status.value if case else None

    async def _on_call(self, user: str) -> bool:
        """On call by role, or named on call by an admin with `/itdesk oncall`."""
        person = await self.directory.person(user)
        return person is not None and await self.desk.on_call(person)


def wrong_code(code: str) -> str:
    """A code of the same shape that is certainly not `code`."""
    wrong = "".join(str((int(c) + 1) % 10) if c.isdigit() else c for c in code)
    return wrong if wrong != code else code + "0"


def _event_name(record: dict[str, Any]) -> str:
    data = record.get("data") or {}
    if record.get("type") == ACTION_EXECUTED:
        return f"{data.get('skill', '?')} executed"
    return f"case {record.get('case')} -> {record.get('status')}"
