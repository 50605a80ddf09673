"""What a turn has read from the directory and device management, asked for once.

A turn looks the same person, device or catalogue item up many times (the gates, the plan's
resources, the skill's preconditions, its verification, the notices), each time from the
backend. While the turn holds its conversation (`remembered_reads`, entered by the
conversation lock) the ports here answer a repeated lookup from what the turn already read,
and forget everything the moment the desk changes anything through either port, so a skill
always verifies against the backend. Outside a held conversation they pass every call on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from bot.models import Device, FactorKind, Group, Person, SoftwareItem
from bot.ports import Devices, Directory, LinkSent

T = TypeVar("T")


class _Seen:
    def __init__(self) -> None:
        self.values: dict[Hashable, Any] = {}
        self.generation = 0  # bumped by every write, so a read that raced one is not kept

    def forget(self) -> None:
        self.values.clear()
        self.generation += 1


_SEEN: ContextVar[_Seen | None] = ContextVar("itdesk_seen_reads", default=None)


@contextmanager
def remembered_reads() -> Iterator[None]:
    """Remember lookups until the block ends. Entered again inside one (a second
    conversation taken during a turn) it forgets what was read before, as whatever happened
    while waiting for that lock must be seen, and keeps remembering after it."""
    seen = _SEEN.get()
    if seen is not None:
        seen.forget()
        yield
        return
    token = _SEEN.set(_Seen())
    try:
        yield
    finally:
        _SEEN.reset(token)


async def _read(key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
    seen = _SEEN.get()
    if seen is None:
        return await fetch()
    if key in seen.values:
        value: T = seen.values[key]
        return value
    generation = seen.generation
    value = await fetch()
    if seen.generation == generation:
        seen.values[key] = value
    return value


async def _write(change: Awaitable[T]) -> T:
    try:
        return await change
    finally:
        seen = _SEEN.get()
        if seen is not None:
            seen.forget()


class RememberingDirectory:
    """The `Directory` port, its lookups remembered while a conversation is held."""

    def __init__(self, inner: Directory) -> None:
        self._inner = inner

    async def person(self, username: str) -> Person | None:
        return await _read(("person", username), lambda: self._inner.person(username))

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        return await _read(("cloud", object_id), lambda: self._inner.person_by_cloud_id(object_id))

    async def person_by_email(self, email: str) -> Person | None:
        key = ("email", email.strip().lower())
        return await _read(key, lambda: self._inner.person_by_email(email))

    async def people_with_role(self, role: str) -> list[Person]:
        return list(await _read(("role", role), lambda: self._inner.people_with_role(role)))

    async def reports_of(self, manager: str) -> list[Person]:
        return list(await _read(("reports", manager), lambda: self._inner.reports_of(manager)))

    async def people(self) -> list[Person]:
        return await self._inner.people()

    async def group(self, group_id: str) -> Group | None:
        return await _read(("group", group_id), lambda: self._inner.group(group_id))

    async def groups(self) -> list[Group]:
        return await self._inner.groups()

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        key = ("factor", username, factor)
        return await _read(key, lambda: self._inner.factor_address(username, factor))

    async def recovery_address(self, username: str) -> str | None:
        key = ("recovery", username)
        return await _read(key, lambda: self._inner.recovery_address(username))

    async def sessions(self, username: str) -> int:
        return await self._inner.sessions(username)

    async def set_locked(self, username: str, locked: bool) -> None:
        await _write(self._inner.set_locked(username, locked))

    async def set_disabled(self, username: str, disabled: bool) -> None:
        await _write(self._inner.set_disabled(username, disabled))

    async def add_member(self, username: str, group_id: str) -> None:
        await _write(self._inner.add_member(username, group_id))

    async def remove_member(self, username: str, group_id: str) -> None:
        await _write(self._inner.remove_member(username, group_id))

    async def revoke_sessions(self, username: str) -> int | None:
        return await _write(self._inner.revoke_sessions(username))

    async def reset_factors(self, username: str) -> None:
        await _write(self._inner.reset_factors(username))

    async def create_person(self, person: Person) -> None:
        await _write(self._inner.create_person(person))

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        return await _write(self._inner.send_reset_link(username, key=key))

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        return await _write(self._inner.send_enrolment_link(username, key=key))

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        await _write(self._inner.set_password(username, password, must_change=must_change))


class RememberingDevices:
    """The `Devices` port, its lookups remembered while a conversation is held."""

    def __init__(self, inner: Devices) -> None:
        self._inner = inner

    async def device(self, device_id: str) -> Device | None:
        return await _read(("device", device_id), lambda: self._inner.device(device_id))

    async def devices_of(self, username: str) -> list[Device]:
        return list(await _read(("owned", username), lambda: self._inner.devices_of(username)))

    async def software(self, software_id: str) -> SoftwareItem | None:
        return await _read(("software", software_id), lambda: self._inner.software(software_id))

    async def install(self, device_id: str, software_id: str) -> None:
        await _write(self._inner.install(device_id, software_id))

    async def uninstall(self, device_id: str, software_id: str) -> None:
        await _write(self._inner.uninstall(device_id, software_id))

    async def lock(self, device_id: str) -> None:
        await _write(self._inner.lock(device_id))

    async def catalogue(self) -> list[SoftwareItem]:
        return await self._inner.catalogue()

    async def devices(self) -> list[Device]:
        return await self._inner.devices()
