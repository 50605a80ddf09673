"""Turns the desk starts itself: a scheduled job (an approval reminder, the end of a grant)
works on a case as a turn would, under the conversation's lock, and its effects go out
through the outbound adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from bot.cases import Case
from bot.context import CaseLog, TurnContext
from bot.models import Effect, Person, Turn
from bot.outbound import Outbound
from bot.ports import Directory
from bot.scheduler import Job
from bot.state.conversations import ConversationLocks

log = structlog.get_logger("itdesk.system")
SYSTEM = Person(username="system", name="IT desk", email="system@invalid")


@dataclass(frozen=True)
class SystemTurnDeps:
    log: CaseLog
    directory: Directory
    locks: ConversationLocks
    outbound: Outbound | None


class SystemTurns:
    def __init__(self, deps: SystemTurnDeps) -> None:
        self._d = deps

    @asynccontextmanager
    async def on_case(
        self, job: Job, case_id: str
    ) -> AsyncIterator[tuple[TurnContext, Case | None]]:
        """A turn for `job` on a case, as its requester's conversation; the case as it is
        once the lock is held (None when the case or its requester is gone)."""
        d = self._d
        case = await d.log.cases.get(case_id)
        requester = await self._requester(case) if case else None
        if case is None or requester is None:
            yield TurnContext(turn=_system_turn(job, "system"), person=SYSTEM, log=d.log), None
            return
        turn = _system_turn(job, case.conversation, requester.username)
        ctx = TurnContext(turn=turn, person=requester, log=d.log)
        async with d.locks.hold(case.conversation) as fence:
            ctx.fence = fence
            yield ctx, await d.log.cases.get(case_id)
        await self.deliver(ctx.effects)

    async def _requester(self, case: Case) -> Person | None:
        try:
            return await self._d.directory.person(case.requester)
        except Exception:
            # The directory being down is often why the desk is working on the case now (a
            # removal that keeps failing): the turn is the requester's by username alone.
            log.warning("system_turn.requester_unavailable", case=case.id)
            return Person(username=case.requester, name=case.requester, email="")

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Send effects that arose outside a turn."""
        if effects and self._d.outbound is not None:
            await self._d.outbound.deliver(effects)


def _system_turn(job: Job, conversation: str, user: str = "system") -> Turn:
    return Turn(
        platform="system",
        event_id=f"job:{job.id}:{job.attempts}",
        user_id=user,
        conversation_id=conversation,
    )
