"""What the web chat shows of the sandbox beside the chat: the org's name, starter
suggestions named from its catalogue, and each person's phone (the codes, pushes and links
the desk sent out of band), where a pending push is approved or denied. This is the only part
of the chat adapters that knows the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.chat.web_requests import ApiError
from adapters.checks.sandbox import CheckClosed
from bot.clock import Clock
from bot.models import Person
from bot.ports import NotFoundError
from bot.world import SandboxWorld


class SandboxPanel:
    def __init__(self, world: SandboxWorld, clock: Clock) -> None:
        self._world = world
        self._clock = clock

    @property
    def org_name(self) -> str:
        return self._world.org.name

    async def suggestions(self) -> list[str]:
        """Things people ask, named from this org's own catalogue (never from code)."""
        groups = [g for g in await self._world.directory.groups() if not g.sensitive]
        apps = [s for s in await self._world.devices.catalogue() if s.approval == "none"]
        asks = ["I'm locked out of my account"]
        if groups:
            asks.append(f"Can you add me to {groups[len(groups) // 2].name}?")
        asks.append("My VPN keeps disconnecting")
        if apps:
            asks.append(f"Please install {apps[0].name} on my laptop")
        return asks

    async def phone(self, person: Person) -> dict[str, Any]:
        """The person's phone and mailbox, newest first."""
        now = self._clock.now()
        out = []
        for item in reversed(await self._world.outbox.items(person.username)):
            expired = _expired(item.expires_at, now)
            out.append({
                **item.model_dump(mode="json", exclude={"ref", "to"}),
                "status": "expired" if expired and item.status == "pending" else item.status,
                "answerable": item.kind == "push" and item.status == "pending" and not expired,
            })  # fmt: skip
        return {"now": now.isoformat(), "items": out}

    async def answer_push(self, person: Person, item_id: str, *, approve: bool) -> str:
        """Answer a push on the person's phone that is still waiting, where a provider keeps
        the answer; the check's id, for the turn that tells the desk to look (the desk reads
        the answer from the checks, never from the turn)."""
        item = await self._world.outbox.item(item_id)
        if item is None or item.to != person.username:
            raise ApiError(404, "unknown_item", "There is no such item on this phone.")
        if item.kind != "push" or item.ref is None:
            raise ApiError(409, "not_a_push", "Only a push can be approved or denied.")
        if item.status != "pending" or _expired(item.expires_at, self._clock.now()):
            raise ApiError(409, "push_closed", f"This push is no longer open ({item.status}).")
        try:
            await self._world.checks.answer(item.ref, approve=approve)
        except CheckClosed:
            raise ApiError(409, "push_closed", "This push is no longer open.") from None
        except NotFoundError:  # a push no check stands behind: nothing to answer
            raise ApiError(404, "unknown_item", "There is no such item on this phone.") from None
        return item.ref


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at
