"""The outbound side of a chat adapter: it takes the desk's effects and renders them for its
platform. Effects of a turn are returned by `Desk.handle`; effects that arise later (scheduled
work, a click that tells someone else) go through the app's `Outbound`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.models import Effect


class Outbound(Protocol):
    async def deliver(self, effects: Sequence[Effect]) -> None: ...


class FanOut:
    """Delivers to every configured chat adapter; each ignores addresses it cannot reach."""

    def __init__(self, *targets: Outbound) -> None:
        self._targets = list(targets)

    def add(self, target: Outbound) -> None:
        self._targets.append(target)

    async def deliver(self, effects: Sequence[Effect]) -> None:
        for target in self._targets:
            await target.deliver(effects)
