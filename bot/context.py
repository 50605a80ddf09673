"""What one turn's handlers work with: the turn, the person, the conversation lock it holds,
the case log it records events in, and the effects collected so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cases import Case, CaseStatus
from bot.events import Event
from bot.models import (
    Address,
    Card,
    Effect,
    Ephemeral,
    Person,
    Reply,
    Send,
    Turn,
    Update,
    new_message_id,
)
from bot.observability import Metrics
from bot.state.cases import CaseRepository
from bot.state.conversations import Fence

TERMINAL = frozenset(
    {
        CaseStatus.RESOLVED,
        CaseStatus.ANSWERED,
        CaseStatus.ESCALATED,
        CaseStatus.REFUSED,
        CaseStatus.CANCELLED,
    }
)


class CaseLog:
    """Appends case events and counts the cases that reach an outcome."""

    def __init__(self, cases: CaseRepository, metrics: Metrics) -> None:
        self.cases = cases
        self._metrics = metrics

    async def append(
        self,
        case: Case,
        event: Event,
        *,
        actor: str,
        status: CaseStatus | None,
        fence: Fence | None,
    ) -> Case:
        before = case.status
        case = await self.cases.append(
            case, event, actor=actor, status=status, fence=fence.pair() if fence else None
        )
        if status is not None and status != before and status in TERMINAL:
            self._metrics.cases.labels(outcome=status.value).inc()
        return case


@dataclass
class TurnContext:
    """One turn in progress. Handlers record case events through it (under the turn's lock)
    and collect what to send; the desk returns the effects when the turn ends."""

    turn: Turn
    person: Person
    log: CaseLog
    fence: Fence | None = None
    effects: list[Effect] = field(default_factory=list)

    # --- outbound -------------------------------------------------------------------
    def here(self) -> Address:
        """The conversation (and thread) the turn came from."""
        return Address(
            person=self.person.username,
            conversation=self.turn.conversation_id,
            thread=self.turn.thread,
        )

    def text_reply(self, text: str, card: Card | None = None) -> Reply:
        return Reply(id=new_message_id(), text=text, card=card)

    def say(self, text: str, card: Card | None = None) -> Reply:
        reply = self.text_reply(text, card)
        self.effects.append(Send(to=self.here(), reply=reply))
        return reply

    def ephemeral(self, text: str) -> None:
        """A reply only the sender sees (errors and help from slash commands)."""
        self.effects.append(Ephemeral(to=self.here(), reply=self.text_reply(text)))

    def send(self, to: Address, reply: Reply) -> None:
        self.effects.append(Send(to=to, reply=reply))

    def update(self, to: Address, reply: Reply) -> None:
        self.effects.append(Update(to=to, reply=reply))

    def tell(self, case: Case, text: str, card: Card | None = None) -> None:
        """A message to the requester of `case`, wherever the turn came from."""
        self.send(requester_address(case), self.text_reply(text, card))

    # --- case events ----------------------------------------------------------------
    async def record(
        self,
        case: Case,
        event: Event,
        *,
        status: CaseStatus | None = None,
        actor: str | None = None,
    ) -> Case:
        """Append an event to `case` as this turn's person (or `actor`), under the lock."""
        return await self.log.append(
            case, event, actor=actor or self.person.username, status=status, fence=self.fence
        )


def requester_address(case: Case) -> Address:
    """The requester's conversation of a case."""
    return Address(person=case.requester, conversation=case.conversation)
