"""Finding Okta's users and groups by the desk's names, and reading a user as a `Person`.

A username is found by searching `profile.login sw "<username>@"` once; the user's id is then
kept (ids never change) and the user read by id, because Okta's search is eventually
consistent and a read after a write must see the write. A kept id stays the username's while
its login keeps that local part (a login renamed is searched for again; one added later
with the same local part leaves the known person as they were). A group is found by its
`profile.name` (what the catalogue and roles files name) and its id kept the same way."""

from __future__ import annotations

from collections import Counter
from typing import Any

from adapters.okta.client import OktaClient
from adapters.okta.records import (
    BUILT_IN,
    DISABLED,
    LOCKED,
    Json,
    active_factors,
    group_name,
    login_of,
    name_of,
    profile,
    quoted,
    same_username,
    username_of,
)
from bot.directory_files import RoleMap
from bot.models import Person
from bot.ports import NotFoundError

USERS = "/api/v1/users"
GROUPS = "/api/v1/groups"


class OktaPeople:
    """Lookups over one Okta org, with the ids it has found kept for the process's life."""

    def __init__(self, client: OktaClient, roles: RoleMap) -> None:
        self.client = client
        self._roles = roles
        self._user_ids: dict[str, str] = {}  # username (casefolded) -> Okta user id
        self._logins: dict[str, str] = {}  # Okta user id -> login, for managers
        self._group_ids: dict[str, str] = {}  # group name (casefolded) -> Okta group id

    # --- users ------------------------------------------------------------------------------

    async def user(self, username: str) -> Json | None:
        """The user whose login's local part is `username`, read fresh; None for nobody, or
        for a username that names more than one login."""
        if not username.strip() or "@" in username:
            return None
        key = username.strip().casefold()
        known = self._user_ids.get(key)
        if known is not None:
            try:
                user = await self.by_id(known)
            except NotFoundError:
                user = None
            if user is not None and same_username(login_of(user), username):
                return user
            self._user_ids.pop(key, None)  # deleted, or renamed: search again
        found = await self.search(f"profile.login sw {quoted(username.strip() + '@')}")
        matching = [u for u in found if same_username(login_of(u), username)]
        if len(matching) != 1:
            return None
        self._user_ids[key] = str(matching[0]["id"])
        return await self.by_id(str(matching[0]["id"]))

    async def require(self, username: str) -> Json:
        user = await self.user(username)
        if user is None:
            raise NotFoundError("person", username)
        return user

    async def by_id(self, user_id: str) -> Json:
        user = await self.client.get(f"{USERS}/{user_id}")
        if not isinstance(user, dict):
            raise NotFoundError("person", user_id)
        self._logins[str(user["id"])] = login_of(user)
        return user

    async def search(self, expression: str) -> list[Json]:
        return [u for u in await self.client.every(USERS, {"search": expression})
                if isinstance(u, dict)]  # fmt: skip

    async def by_email(self, email: str) -> Json | None:
        """The one user with this primary or secondary address, as `user` finds them."""
        address = email.strip()
        if not address:
            return None
        q = quoted(address)
        found = await self.search(f"profile.email eq {q} or profile.secondEmail eq {q}")
        if len(found) != 1:
            return None
        same = await self.user(username_of(login_of(found[0])))
        return same if same is not None and same["id"] == found[0]["id"] else None

    async def factors(self, user_id: str) -> list[Json]:
        return [f for f in await self.client.get(f"{USERS}/{user_id}/factors") or []
                if isinstance(f, dict)]  # fmt: skip

    async def manager_of(self, user: Json) -> str | None:
        """`profile.managerId` (an Okta user id), else `profile.manager` when it is a login."""
        p = profile(user)
        manager_id = str(p.get("managerId") or "")
        if manager_id:
            login = self._logins.get(manager_id)
            if login is None:
                try:
                    login = login_of(await self.by_id(manager_id))
                except NotFoundError:
                    return None
            return username_of(login) or None
        manager = str(p.get("manager") or "")
        return username_of(manager) if "@" in manager else None

    # --- groups -----------------------------------------------------------------------------

    async def group(self, name: str) -> Json | None:
        """The group whose `profile.name` is `name` (whatever its case)."""
        key = name.strip().casefold()
        if not key:
            return None
        known = self._group_ids.get(key)
        if known is not None:
            try:
                group = await self.client.get(f"{GROUPS}/{known}")
            except NotFoundError:
                group = None
            if isinstance(group, dict) and group_name(group).casefold() == key:
                return group
            self._group_ids.pop(key, None)
        found = await self.client.every(GROUPS, {"search": f"profile.name eq {quoted(name)}"})
        matching = [g for g in found if isinstance(g, dict) and group_name(g).casefold() == key]
        if len(matching) != 1:
            return None
        self._group_ids[key] = str(matching[0]["id"])
        return dict(matching[0])

    async def require_group(self, name: str) -> Json:
        group = await self.group(name)
        if group is None:
            raise NotFoundError("group", name)
        return group

    async def group_names(self, user_id: str) -> list[str]:
        """The groups the user is in, by name, as Okta lists them (Everyone left out)."""
        groups = await self.client.every(f"{USERS}/{user_id}/groups")
        return [group_name(g) for g in groups
                if isinstance(g, dict) and g.get("type") != BUILT_IN and group_name(g)]  # fmt: skip

    async def members(self, group_id: str) -> list[Json]:
        return [u for u in await self.client.every(f"{GROUPS}/{group_id}/users")
                if isinstance(u, dict)]  # fmt: skip

    # --- people -----------------------------------------------------------------------------

    async def person(self, user: Json) -> Person:
        """The user as the desk's `Person`: roles and privilege from the roles file's groups,
        factors from the active enrolments, no devices (device management has them)."""
        user_id = str(user["id"])
        groups = await self.group_names(user_id)
        factors = active_factors(await self.factors(user_id))
        p, status = profile(user), str(user.get("status") or "")
        return Person(
            username=username_of(login_of(user)),
            name=name_of(user),
            email=str(p.get("email") or ""),
            manager=await self.manager_of(user),
            department=str(p.get("department") or ""),
            title=str(p.get("title") or ""),
            factors=tuple(factors),
            locked=status in LOCKED,
            disabled=status in DISABLED,
            privileged=self._roles.privileged_by(groups),
            roles=self._roles.roles_of(groups),
            groups=tuple(groups),
        )

    async def people(self, users: list[Any]) -> list[Person]:
        """The users as people, ordered by username; users whose usernames collide are left
        out, as `user` finds neither."""
        named = [u for u in users if isinstance(u, dict) and login_of(u)]
        counts = Counter(username_of(login_of(u)).casefold() for u in named)
        alone = [u for u in named if counts[username_of(login_of(u)).casefold()] == 1]
        people = [await self.person(u) for u in alone]
        return sorted(people, key=lambda p: p.username)
