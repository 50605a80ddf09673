"""Entra users as the desk's people: found by username (`adapters.entra.records`) or UPN,
and built from the user, their groups (`memberOf`: direct memberships, so a role held
through a nested group does not count), manager, registered methods and recent lock-outs.
A full read builds every person with a few calls each, `PARALLEL` people at a time."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from adapters.entra.graph import Graph, Json
from adapters.entra.methods import Method, factors_of, methods_of
from adapters.entra.records import (
    GROUP_FIELDS,
    USER_FIELDS,
    by_username,
    group_ids,
    the_one,
    username_of,
)
from adapters.entra.signins import RecentLockouts
from bot.directory_files import RoleMap
from bot.models import Person
from bot.ports import NotFoundError

PARALLEL = 4  # people built at once
USER = "#microsoft.graph.user"


class EntraPeople:
    """Finds users and builds the desk's `Person` for each."""

    def __init__(self, graph: Graph, roles: RoleMap, locks: RecentLockouts) -> None:
        self._graph = graph
        self._roles = roles
        self._locks = locks
        self._parallel = asyncio.Semaphore(PARALLEL)

    async def user(self, username: str) -> Json | None:
        """The user with this username, or with this UPN (`/users/{upn}`) when it is one."""
        name = username.strip()
        if not name:
            return None
        if "@" in name:
            try:
                return await self._graph.get(f"/users/{quote(name)}", {"$select": USER_FIELDS})
            except NotFoundError:
                return None
        return the_one(await self._graph.all("/users", by_username(name), eventual=True), name)

    async def methods(self, user: Json) -> list[Method]:
        return methods_of(await self._graph.all(f"/users/{user['id']}/authentication/methods"))

    async def manager(self, user: Json) -> str | None:
        try:
            boss = await self._graph.get(f"/users/{user['id']}/manager", {"$select": USER_FIELDS})
        except NotFoundError:
            return None
        return username_of(boss) or None

    async def person(self, user: Json) -> Person:
        async with self._parallel:
            member_of, manager, methods, locked = await asyncio.gather(
                self._graph.all(f"/users/{user['id']}/memberOf", {"$select": GROUP_FIELDS}),
                self.manager(user), self.methods(user), self._locks.locked(user["id"]),
            )  # fmt: skip
        groups = group_ids(member_of)
        return Person(
            username=username_of(user),
            name=str(user.get("displayName") or username_of(user)),
            email=str(user.get("mail") or user.get("userPrincipalName") or ""),
            manager=manager,
            department=str(user.get("department") or ""),
            title=str(user.get("jobTitle") or ""),
            factors=factors_of(methods),
            locked=locked,
            disabled=user.get("accountEnabled") is False,
            privileged=self._roles.privileged_by(groups),
            roles=self._roles.roles_of(groups),
            groups=groups,
        )

    async def of(self, users: list[Json]) -> list[Person]:
        """The people among `users` (directory objects that are users with a username),
        ordered by username."""
        named = [u for u in users if u.get("@odata.type", USER) == USER and username_of(u)]
        people = await asyncio.gather(*(self.person(u) for u in named))
        return sorted({p.username: p for p in people}.values(), key=lambda p: p.username)
