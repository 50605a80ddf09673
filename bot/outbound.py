"""The outbound side of a chat adapter: it takes the desk's effects and renders them for its
platform. Effects of a turn are returned by `Desk.handle`; effects that arise later (scheduled
work, a click that tells someone else) go through the app's `Outbound`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.models import Effect


class Outbound(Protocol):
    async def deliver(self, effects: Sequence[Effect]) -> None: ...


@runtime_checkable
class Reach(Protocol):
    """Whether a direct message to a person would get to them: the desk asks before it
    writes first to someone who may never have opened the app (the platform knows no such
    user, or refuses to open a conversation with them). A transient failure raises."""

    async def reaches(self, username: str) -> bool: ...


class FanOut:
    """Delivers to every configured chat adapter; each ignores addresses it cannot reach."""

    def __init__(self, *targets: Outbound) -> None:
        self._targets = list(targets)

    def add(self, target: Outbound) -> None:
        self._targets.append(target)

    async def deliver(self, effects: Sequence[Effect]) -> None:
        for target in self._targets:
            await target.deliver(effects)

    async def reaches(self, username: str) -> bool:
        """Whether any adapter that can say reaches the person directly."""
        for target in self._targets:
            if isinstance(target, Reach) and await target.reaches(username):
                return True
        return False
