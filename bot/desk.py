"""The desk: one turn in, effects out.

`Desk.handle` drops duplicate deliveries, finds out who is typing, and routes the turn: a
click acts on the record its button names, a command steers the desk, a message in a case's
thread goes to that case, and any other message is the person talking to the desk. Only the
wiring (`bot.wiring`) builds it; the chat adapters see it as a `bot.turns.TurnHandler`."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import structlog

from bot import texts
from bot.admin import Admin
from bot.clicks import Clicks
from bot.context import CaseLog, TurnContext
from bot.handoff import Handoff
from bot.intake import Intake
from bot.models import Address, Effect, Person, Reply, Send, Turn, TurnKind, new_message_id
from bot.observability import Metrics, bind_correlation, new_correlation_id
from bot.oncall import OnCall
from bot.ports import Directory
from bot.state.conversations import ConversationLocks, LockTimeout
from bot.state.deliveries import Deduplicator
from bot.turns import TurnFailed, TurnInProgress
from verification.identity import resolve_person

log = structlog.get_logger("itdesk.desk")


@dataclass(frozen=True)
class DeskParts:
    """What the desk routes turns to, and what it needs to do so."""

    log: CaseLog
    dedupe: Deduplicator
    locks: ConversationLocks
    directory: Directory
    metrics: Metrics
    intake: Intake
    clicks: Clicks
    admin: Admin
    handoff: Handoff
    oncall: OnCall


class Desk:
    """The service desk's brain, independent of any chat platform."""

    def __init__(self, parts: DeskParts) -> None:
        self._p = parts

    async def handle(self, turn: Turn) -> list[Effect]:
        """Handle one inbound turn and return what to send. Never raises for bad input."""
        try:
            effects = await self.attempt(turn)
        except TurnInProgress:
            return []  # the same event, delivered twice at once: the other one answers
        except TurnFailed:
            return [_plain(turn, texts.say("try_again"))]
        if effects is None:
            return []
        await self.commit(turn)
        return effects

    async def attempt(self, turn: Turn) -> list[Effect] | None:
        """The turn's work, not yet marked done (`commit`): None for a delivery already
        handled; `TurnFailed` (it may come again) or `TurnInProgress` otherwise."""
        p = self._p
        started = time.perf_counter()
        claim = turn.delivery or new_correlation_id()
        with bind_correlation(turn.correlation_id or new_correlation_id()):
            p.metrics.turns.labels(platform=turn.platform, kind=turn.kind.value).inc()
            began = await p.dedupe.begin(turn.platform, turn.event_id, claim)
            if began != "new":
                p.metrics.duplicates.labels(platform=turn.platform).inc()
                log.info("turn.duplicate", event_id=turn.event_id, platform=turn.platform)
                if began == "busy":
                    raise TurnInProgress(turn.event_id)
                return None
            try:
                return await self._handle(turn)
            except LockTimeout:
                return [_plain(turn, texts.say("busy"))]
            except Exception as exc:
                log.exception("turn.failed", event_id=turn.event_id, platform=turn.platform)
                with contextlib.suppress(Exception):  # else the claim lapses on its own
                    await p.dedupe.abandon(turn.platform, turn.event_id, claim)
                raise TurnFailed(turn.event_id) from exc
            finally:
                p.metrics.turn_seconds.observe(time.perf_counter() - started)

    async def commit(self, turn: Turn) -> None:
        """Mark the turn's delivery done: a redelivery from now on is dropped."""
        await self._p.dedupe.commit(turn.platform, turn.event_id)

    async def sees_oncall(self, person: Person) -> bool:
        """Whether a person may see the on-call channel's escalation threads."""
        return await self._p.oncall.sees_channel(person)

    async def _handle(self, turn: Turn) -> list[Effect]:
        p = self._p
        if turn.refused is not None:
            log.info("turn.account_refused", platform=turn.platform, why=turn.refused)
            return [_plain(turn, texts.say(f"identity.{turn.refused}"))]
        person = await resolve_person(turn, p.directory)
        if person is None:
            log.info("turn.unknown_person", platform=turn.platform)
            return [_plain(turn, texts.say("unknown_person"))]
        with structlog.contextvars.bound_contextvars(person=person.username):
            log.info("turn.received", kind=turn.kind.value, platform=turn.platform)
            ctx = TurnContext(turn=turn, person=person, log=p.log)
            if turn.kind == TurnKind.CLICK:
                await p.clicks.press(ctx)
            elif turn.kind == TurnKind.COMMAND:
                await p.admin.run(ctx)
            elif turn.thread:
                await self._thread_message(ctx)
            else:
                await p.intake.message(ctx)
            return ctx.effects

    async def _thread_message(self, ctx: TurnContext) -> None:
        """A technician writing in a case's thread in the on-call channel."""
        p = self._p
        case = await p.log.cases.get(ctx.turn.thread or "")
        text = ctx.turn.text.strip()
        if case is None or not text:
            return
        async with p.locks.hold(case.conversation) as fence:
            ctx.fence = fence
            case = await p.log.cases.get(case.id) or case
            await p.handoff.from_tech(ctx, case, text)


def _plain(turn: Turn, text: str) -> Send:
    to = Address(conversation=turn.conversation_id, thread=turn.thread)
    return Send(to=to, reply=Reply(id=new_message_id(), text=text))
