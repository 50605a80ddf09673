"""A chat adapter that records instead of posting (botbuilder's `TestAdapter`, for the desk).

It keeps every effect the desk produced, in order, whether returned from a turn (`record`) or
delivered later by scheduled work (`deliver`, the `Outbound` protocol), and the newest version
of every message by its reply id. Where a message went follows the scenario platform's
conversation ids: `dm:<username>` is a person's direct conversation, `channel:<name>` a
channel; an address with a `channel` is a channel thread, one with only a `person` their DM.

Scenario steps find the buttons they press through the query helpers. A button counts as
"approve", "undo"... when its action is that name (or ends with `.<name>`), or its label is
the usual wording (`BUTTONS`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.models import Button, Card, Effect, Ephemeral, Reply

# step word -> (button actions, button labels) that mean it
BUTTONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "approve": (frozenset({"approve"}), frozenset({"approve"})),
    "deny": (frozenset({"deny", "reject"}), frozenset({"deny", "reject"})),
    "undo": (frozenset({"undo"}), frozenset({"undo"})),
    "helpful": (frozenset({"helpful", "helped", "fixed"}), frozenset({"that fixed it"})),
    "not-helpful": (
        frozenset({"not_helpful", "not-helpful", "didnt_help", "still_broken"}),
        frozenset({"still broken"}),
    ),
    "claim": (frozenset({"claim"}), frozenset({"claim"})),
    "resolve": (frozenset({"resolve"}), frozenset({"resolve"})),
}


@dataclass(frozen=True)
class Place:
    """Where a message is: a person's DM, or a channel (inside a case's thread)."""

    kind: Literal["dm", "channel", "nowhere"]
    name: str = ""
    thread: str | None = None

    def describe(self) -> str:
        if self.kind == "dm":
            return f"DM {self.name}"
        return f"#{self.name}" + (f" thread {self.thread}" if self.thread else "")


@dataclass(frozen=True)
class Delivery:
    """One effect as the desk produced it, in order; `via` says whether it came back from a
    turn or was delivered later (scheduled work)."""

    seq: int
    effect: Effect
    place: Place
    via: Literal["turn", "outbound"]
    during: str = ""  # what was going on (a scenario step), for messages about it


@dataclass
class Message:
    """A message as it now reads: its first place and every version, newest last."""

    id: str
    place: Place
    seq: int
    ephemeral: bool
    versions: list[Reply] = field(default_factory=list)

    @property
    def latest(self) -> Reply:
        return self.versions[-1]

    @property
    def card(self) -> Card | None:
        return self.latest.card

    def button(self, word: str) -> Button | None:
        """The button on the current version that means `word` (see `BUTTONS`)."""
        card = self.card
        return None if card is None else find_button(card, word)


def find_button(card: Card, word: str) -> Button | None:
    actions, labels = BUTTONS[word]
    for button in card.buttons:
        action = button.action.lower()
        if action in actions or action.rsplit(".", 1)[-1] in actions:
            return button
        if button.label.strip().lower() in labels:
            return button
    return None


def place_of(effect: Effect) -> Place:
    to = effect.to
    if to.channel:
        return Place("channel", to.channel, to.thread)
    conversation = to.conversation or ""
    if conversation.startswith("channel:"):
        return Place("channel", conversation.removeprefix("channel:"), to.thread)
    if conversation.startswith("dm:"):
        return Place("dm", conversation.removeprefix("dm:"))
    if to.person:
        return Place("dm", to.person)
    return Place("nowhere")


def shown_text(reply: Reply) -> Iterator[str]:
    """Everything of a message a person could read: text, card text, fields and buttons."""
    yield reply.text
    card = reply.card
    if card is None:
        return
    yield from (card.title, card.text, card.context or "")
    for item in card.fields:
        yield from (item.label, item.value)
    for button in card.buttons:
        yield from (button.label, button.confirm or "", button.ref)


class RecordingChat:
    """Records the desk's effects and answers questions about them."""

    def __init__(self, oncall_channel: str = "oncall") -> None:
        self.oncall_channel = oncall_channel
        self._deliveries: list[Delivery] = []
        self._messages: dict[str, Message] = {}
        self.during = ""  # stamped on every delivery from now on (the step being played)

    # --- recording ----------------------------------------------------------------------
    def record(
        self, effects: Sequence[Effect], *, via: Literal["turn", "outbound"] = "turn"
    ) -> None:
        for effect in effects:
            place = place_of(effect)
            seq = len(self._deliveries)
            self._deliveries.append(Delivery(seq, effect, place, via, self.during))
            message = self._messages.get(effect.reply.id)
            if message is None:
                message = Message(
                    effect.reply.id, place, seq, ephemeral=isinstance(effect, Ephemeral)
                )
                self._messages[effect.reply.id] = message
            message.versions.append(effect.reply)

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """The `Outbound` side: effects that arise outside a turn."""
        self.record(effects, via="outbound")

    # --- the transcript -----------------------------------------------------------------
    @property
    def deliveries(self) -> Sequence[Delivery]:
        return self._deliveries

    def mark(self) -> int:
        """A position in the transcript, for `since`."""
        return len(self._deliveries)

    def since(self, mark: int) -> list[Delivery]:
        return self._deliveries[mark:]

    def messages(self) -> list[Message]:
        """Every message, oldest first, each as it now reads."""
        return sorted(self._messages.values(), key=lambda m: m.seq)

    def dm(self, person: str) -> list[Message]:
        return [m for m in self.messages() if m.place == Place("dm", person)]

    def thread(self, case_id: str) -> list[Message]:
        return [
            m for m in self.messages() if m.place.kind == "channel" and m.place.thread == case_id
        ]

    def dm_recipients(self) -> set[str]:
        """People the desk sent or updated a message in their DM (ephemerals aside)."""
        return {
            d.place.name
            for d in self._deliveries
            if d.place.kind == "dm" and not isinstance(d.effect, Ephemeral)
        }

    def posted_in(self, channel: str) -> bool:
        return any(d.place.kind == "channel" and d.place.name == channel for d in self._deliveries)

    # --- what steps press ---------------------------------------------------------------
    def approval_for(self, person: str, word: str, *, oncall: bool = False) -> Message | None:
        """The newest open approval card addressed to `person` (in their DM, or for someone
        on call also in the on-call channel) offering the `word` button."""

        def addressed(m: Message) -> bool:
            return m.place == Place("dm", person) or (
                oncall and m.place.kind == "channel" and m.place.name == self.oncall_channel
            )

        return self._newest(lambda m: addressed(m) and _is_open(m, "approval", word))

    def approval_about(self, requester: str) -> Message | None:
        """The newest open approval card about `requester`'s request, wherever it went."""
        return self._newest(
            lambda m: (
                _is_open(m, "approval", "approve")
                and m.card is not None
                and m.card.about == requester
            )
        )

    def undo_offer_for(self, person: str) -> Message | None:
        """The newest card in `person`'s DM that still offers Undo."""
        return self._newest(lambda m: m.place == Place("dm", person) and _is_open(m, None, "undo"))

    def runbook_answer_for(self, person: str, word: str) -> Message | None:
        """The newest runbook answer in `person`'s DM still offering the `word` button
        ("That fixed it" / "Still broken")."""
        return self._newest(
            lambda m: m.place == Place("dm", person) and _is_open(m, "runbook", word)
        )

    def unclaimed_escalation(self) -> Message | None:
        """The newest escalation card in the on-call channel that still offers Claim."""
        return self._newest(
            lambda m: (
                m.place.kind == "channel"
                and m.place.name == self.oncall_channel
                and _is_open(m, "escalation", "claim")
            )
        )

    def escalation_cards(self) -> list[Message]:
        """Escalation cards in the on-call channel, newest first."""
        return [
            m
            for m in reversed(self.messages())
            if m.place.kind == "channel"
            and m.place.name == self.oncall_channel
            and m.card is not None
            and m.card.kind == "escalation"
        ]

    def _newest(self, wanted: Callable[[Message], bool]) -> Message | None:
        return next((m for m in reversed(self.messages()) if wanted(m)), None)


def _is_open(message: Message, kind: str | None, word: str) -> bool:
    card = message.card
    if card is None or message.ephemeral or (kind is not None and card.kind != kind):
        return False
    return find_button(card, word) is not None
