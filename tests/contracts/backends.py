"""The backends under the contract tests and what the tests may ask of them. The contract
every backend behind the desk's ports must keep (`bot.ports`): the same tests run against
each backend, holding the records of `org.yaml`.

Only the sandbox joins today, whole and twice more built without some capabilities, so that
both answers to each capability (it works and reads back; or `Unsupported` naming it, with
nothing changed) are held to. A real backend joins by adding a factory to `BACKENDS` that
returns its ports over a test tenant seeded with `org.yaml`, the capabilities it lacks, and
where it has them, a test phone and a clock it can move."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bot.clock import ManualClock
from bot.org import Org, load_org
from bot.ports import Checks, Devices, Directory, Tickets, Unsupported
from bot.store import Store
from bot.world import SandboxWorld

ORG: Org = load_org(Path(__file__).with_name("org.yaml"))


class Phone(Protocol):
    """What a test person does with their phone: answer a push, read a code."""

    async def answer(self, check_id: str, *, approve: bool) -> object: ...
    async def code(self, check_id: str) -> str | None: ...


@dataclass
class Backend:
    """One backend's ports under test, and what the tests may ask of its test harness."""

    name: str
    directory: Directory
    devices: Devices
    tickets: Tickets
    checks: Checks
    lacks: frozenset[str]
    phone: Phone | None = None  # None: no test phone, the tests that need one are skipped
    advance: Callable[[timedelta], None] | None = None  # moves the backend's clock

    def needs_phone(self) -> Phone:
        if self.phone is None:
            pytest.skip(f"{self.name} has no test phone")
        return self.phone

    def later(self, delta: timedelta) -> None:
        if self.advance is None:
            pytest.skip(f"{self.name}'s clock cannot be moved")
        self.advance(delta)


class _SandboxPhone:
    def __init__(self, world: SandboxWorld) -> None:
        self._world = world

    async def answer(self, check_id: str, *, approve: bool) -> object:
        return await self._world.checks.answer(check_id, approve=approve)

    async def code(self, check_id: str) -> str | None:
        item = await self._world.checks.delivered(check_id)
        return None if item is None else item.secret


# Between them, the two reduced sandboxes lack every capability once.
LACKING_SOME = frozenset({
    "session_count", "unlock", "group_membership", "reset_link", "create_person",
    "install", "device_lock", "push", "withdraw",
})  # fmt: skip
LACKING_OTHERS = frozenset({
    "revoke_sessions", "lock", "disable", "enable", "reset_factors", "enrolment_link",
    "set_password", "uninstall", "sms", "email", "totp",
})  # fmt: skip


def _sandbox(lacks: frozenset[str]) -> Callable[[Store], Awaitable[Backend]]:
    async def build(store: Store) -> Backend:
        assert ORG.now is not None
        clock = ManualClock(ORG.now)
        world = await SandboxWorld.create(store.child("world"), ORG, clock, unsupported=lacks)
        return Backend(
            name="sandbox",
            directory=world.directory,
            devices=world.devices,
            tickets=world.tickets,
            checks=world.checks,
            lacks=lacks,
            phone=_SandboxPhone(world),
            advance=clock.advance,
        )

    return build


BACKENDS: dict[str, Callable[[Store], Awaitable[Backend]]] = {
    "sandbox": _sandbox(frozenset()),
    "sandbox-lacking-some": _sandbox(LACKING_SOME),
    "sandbox-lacking-others": _sandbox(LACKING_OTHERS),
}


async def can(backend: Backend, capability: str, call: Awaitable[object]) -> bool:
    """Run a write that needs `capability`. Where the backend lacks it, the write must raise
    `Unsupported` naming it (False: the caller then checks nothing changed); otherwise it
    must go through (True)."""
    if capability not in backend.lacks:
        await call
        return True
    with pytest.raises(Unsupported) as caught:
        await call
    assert caught.value.capability == capability
    return False
