"""Telling the people of a role about something at once (security hears of every lost device
and every possible compromise), in their direct conversation with the desk."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.context import TurnContext
from bot.models import Address
from bot.ports import Directory


@dataclass(frozen=True)
class NoticeDeps:
    directory: Directory


class Notices:
    def __init__(self, deps: NoticeDeps) -> None:
        self._d = deps

    async def tell_role(self, ctx: TurnContext, role: str, requester: str, what: str) -> None:
        """A notice about `requester`'s request to every active person with `role` (but the
        requester)."""
        directory = self._d.directory
        person = await directory.person(requester)
        name = person.name if person else requester
        for p in await directory.people_with_role(role):
            if not p.disabled and p.username != requester:
                ctx.send(
                    Address.dm(p.username),
                    ctx.text_reply(texts.say("security.notice", requester=name, what=what)),
                )
