"""How the chat adapters meet the desk. An adapter verifies and translates a platform event
into a `Turn` and hands it to a `TurnHandler`, which returns the effects to send; effects that
arise outside a turn (scheduled work, a click that tells someone else) reach the adapters
through `bot.outbound.Outbound`. Adapters see these protocols and the directory port, never
the desk itself."""

from __future__ import annotations

from typing import Protocol

from bot.models import Effect, Person, Turn


class TurnHandler(Protocol):
    """Takes one inbound turn and returns what to send. Never raises for bad input."""

    async def handle(self, turn: Turn) -> list[Effect]: ...


class OnCallView(Protocol):
    """Who may see the on-call channel's escalation threads (a front end that shows them
    asks, rather than deciding for itself)."""

    async def sees_oncall(self, person: Person) -> bool: ...
