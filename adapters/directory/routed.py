"""Several directories behind one `Directory`, as ITDESK_DIRECTORY=okta,ad names them: people
mastered in Active Directory and synced to a cloud identity provider, which cannot unlock
them or reset their passwords.

The first directory named is the front: people, roles, groups and managers are read from
it, and it holds the sign-in factors and sessions (resets of factors, enrolment links,
revoking sessions). Each person's account writes (lock, enable, password, reset link) go to
the directory that masters them, as the front says (`Mastered.master_of`: Okta's
`credentials.provider`, Entra's `onPremisesSyncEnabled`), and a person's lock and disabled
state is read from both. A group is changed in the first directory that has it and lets the
desk change it (a group pushed from AD into Okta is AD's to change). Usernames are the same
in every directory (an AD sAMAccountName is the local part of the Okta login or Entra UPN)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot.models import FactorKind, Group, Person
from bot.ports import (
    ContactPoints,
    Contacts,
    Directory,
    LinkSent,
    Master,
    Mastered,
    NotFoundError,
    Unsupported,
)
from bot.reset_links import sends_own_reset_links

T = TypeVar("T")


class RoutedDirectory:
    """`sources` in ITDESK_DIRECTORY's order, each under the `Master` kind it is."""

    def __init__(self, sources: Sequence[tuple[Master, Directory]]) -> None:
        kinds = [kind for kind, _ in sources]
        if not sources or len(set(kinds)) != len(kinds):
            raise ValueError(f"a routed directory needs distinct directories, not {kinds}")
        self._sources = list(sources)
        self._front_kind, self.front = sources[0]
        self._by_kind = dict(sources)

    def __repr__(self) -> str:
        return f"RoutedDirectory({', '.join(kind for kind, _ in self._sources)})"

    # --- which directory -------------------------------------------------------------------

    async def master_of(self, username: str) -> Master | None:
        """The kind of directory that masters the person, as the front says (a front that
        cannot say masters everyone it has)."""
        if isinstance(self.front, Mastered):
            return await self.front.master_of(username)
        return self._front_kind if await self.front.person(username) is not None else None

    async def master(self, username: str) -> Directory:
        """The directory the person's account writes go to: their master where it is one
        of ours, else the front (which then says honestly why it cannot)."""
        kind = await self.master_of(username)
        if kind is None:
            raise NotFoundError("person", username)
        return self._by_kind.get(kind, self.front)

    async def sends_reset_link(self, username: str) -> bool:
        """Whether the person's master sends reset links itself (else the desk sends its
        own, and the page sets the password in the master: `bot.reset_links`)."""
        return sends_own_reset_links(await self.master(username))

    # --- reading ---------------------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        person = await self.front.person(username)
        if person is None:
            return None
        master = await self.master(username)
        if master is self.front:
            return person
        at_master = await master.person(username)
        if at_master is None:
            return person
        return person.model_copy(
            update={
                "locked": person.locked or at_master.locked,
                "disabled": person.disabled or at_master.disabled,
            }
        )

    async def person_by_email(self, email: str) -> Person | None:
        found = await self.front.person_by_email(email)
        return None if found is None else await self.person(found.username)

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        for _, directory in self._sources:
            found = await directory.person_by_cloud_id(object_id)
            if found is not None:
                return await self.person(found.username)
        return None

    async def people_with_role(self, role: str) -> list[Person]:
        return await self.front.people_with_role(role)

    async def reports_of(self, manager: str) -> list[Person]:
        return await self.front.reports_of(manager)

    async def people(self) -> list[Person]:
        return await self.front.people()

    async def group(self, group_id: str) -> Group | None:
        for _, directory in self._sources:
            group = await directory.group(group_id)
            if group is not None:
                return group
        return None

    async def groups(self) -> list[Group]:
        seen: dict[str, Group] = {}
        for _, directory in self._sources:
            for group in await directory.groups():
                seen.setdefault(group.id.lower(), group)
        return sorted(seen.values(), key=lambda g: g.id)

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        return await self._first(lambda d: d.factor_address(username, factor))

    async def recovery_address(self, username: str) -> str | None:
        master = await self.master(username)
        return await master.recovery_address(username) or await self.front.recovery_address(
            username
        )

    async def contact_points(self, username: str) -> ContactPoints | None:
        """The addresses on record in the first directory that keeps them (`Contacts`)."""
        for _, directory in self._sources:
            if isinstance(directory, Contacts):
                points = await directory.contact_points(username)
                if points is not None:
                    return points
        return None

    # --- account writes: to the person's master --------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        await (await self.master(username)).set_locked(username, locked)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        await (await self.master(username)).set_disabled(username, disabled)

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        master = await self.master(username)
        await master.set_password(username, password, must_change=must_change)

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        return await (await self.master(username)).send_reset_link(username, key=key)

    async def create_person(self, person: Person) -> None:
        await self.front.create_person(person)

    # --- factors and sessions: the front, or the first that can ----------------------------

    async def reset_factors(self, username: str) -> None:
        await self._capable(lambda d: d.reset_factors(username))

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        return await self._capable(lambda d: d.send_enrolment_link(username, key=key))

    async def revoke_sessions(self, username: str) -> int | None:
        return await self._capable(lambda d: d.revoke_sessions(username))

    async def sessions(self, username: str) -> int:
        return await self._capable(lambda d: d.sessions(username))

    # --- groups: the first directory that has the group and may change it ------------------

    async def add_member(self, username: str, group_id: str) -> None:
        await self._in_group(group_id, lambda d: d.add_member(username, group_id))

    async def remove_member(self, username: str, group_id: str) -> None:
        await self._in_group(group_id, lambda d: d.remove_member(username, group_id))

    async def _in_group(self, group_id: str, write: Callable[[Directory], Awaitable[None]]) -> None:
        refused: Unsupported | None = None
        for _, directory in self._sources:
            if await directory.group(group_id) is None:
                continue
            try:
                return await write(directory)
            except Unsupported as exc:  # synced from elsewhere: nothing changed here
                refused = refused or exc
        if refused is not None:
            raise refused
        raise NotFoundError("group", group_id)

    async def _capable(self, call: Callable[[Directory], Awaitable[T]]) -> T:
        """The call in the first directory that supports it. `Unsupported` changes nothing,
        so the next directory may be asked; the front's refusal is what is said when none
        can."""
        first: Unsupported | None = None
        for _, directory in self._sources:
            try:
                return await call(directory)
            except Unsupported as exc:
                first = first or exc
        assert first is not None
        raise first

    async def _first(self, read: Callable[[Directory], Awaitable[T | None]]) -> T | None:
        for _, directory in self._sources:
            found = await read(directory)
            if found is not None:
                return found
        return None
