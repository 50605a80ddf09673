"""How the chat adapters meet the desk. An adapter verifies and translates a platform event
into a `Turn` and hands it to a `TurnHandler`, which returns the effects to send; effects that
arise outside a turn (scheduled work, a click that tells someone else) reach the adapters
through `bot.outbound.Outbound`. Adapters see these protocols and the directory port, never
the desk itself."""

from __future__ import annotations

from typing import Protocol

from bot.models import Effect, Person, Turn


class TurnFailed(Exception):
    """A turn's work failed before it was committed; it may be handled again."""


class TurnInProgress(Exception):
    """Another delivery of the same platform event is being handled right now."""


class TurnHandler(Protocol):
    """Takes one inbound turn and returns what to send.

    `handle` does it all and never raises: a duplicate of a handled turn gets nothing, a
    failure gets an apology. A durable pipeline uses `attempt` and `commit` instead: the
    turn's work, then (once the effects are on their way) marking it done, so that a failure
    in between leaves the turn to be handled again. `attempt` returns None for a duplicate and
    raises `TurnFailed` or `TurnInProgress`."""

    async def handle(self, turn: Turn) -> list[Effect]: ...

    async def attempt(self, turn: Turn) -> list[Effect] | None: ...

    async def commit(self, turn: Turn) -> None: ...


class OnCallView(Protocol):
    """Who may see the on-call channel's escalation threads (a front end that shows them
    asks, rather than deciding for itself)."""

    async def sees_oncall(self, person: Person) -> bool: ...
