"""What one turn's handlers work with: the desk, the turn, the person, the conversation lock,
and the effects collected so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.cases import Case, CaseStatus
from bot.concurrency import Fence
from bot.models import Address, Button, Card, Effect, Ephemeral, Person, Reply, Send, Turn, Update

if TYPE_CHECKING:
    from bot.desk import Desk

TERMINAL = frozenset(
    {
        CaseStatus.RESOLVED,
        CaseStatus.ANSWERED,
        CaseStatus.ESCALATED,
        CaseStatus.REFUSED,
        CaseStatus.CANCELLED,
    }
)


@dataclass
class TurnContext:
    desk: Desk
    turn: Turn
    person: Person
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
        return Reply(id=self.desk.new_message_id(), text=text, card=card)

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

    def update_thread_card(
        self,
        case: Case,
        *,
        claimed_by: str | None = None,
        resolved: bool = False,
        buttons: tuple[Button, ...] = (),
    ) -> None:
        escalation = next((e for e in reversed(case.events) if e.type == "escalated"), None)
        if escalation is None or "card" not in escalation.data:
            return
        card = Card.model_validate(escalation.data["card"])
        state = "Resolved" if resolved else "Claimed"
        context = f"{state} by {claimed_by}" if claimed_by else None
        card = card.model_copy(update={"buttons": buttons, "context": context})
        self.update(
            Address.case_thread(self.desk.oncall_channel, case.id),
            Reply(id=str(escalation.data["thread_message"]), text=card.title, card=card),
        )

    # --- case events ----------------------------------------------------------------
    async def record(
        self,
        case: Case,
        type: str,
        *,
        status: CaseStatus | None = None,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> Case:
        """Append an event to `case` as this turn's person (or `actor`), under the lock."""
        before = case.status
        case = await self.desk.cases.append(
            case,
            type,
            actor=actor or self.person.username,
            status=status,
            data=data,
            fence=self.fence.pair() if self.fence else None,
        )
        if status is not None and status != before and status in TERMINAL:
            self.desk.metrics.cases.labels(outcome=status.value).inc()
        return case
