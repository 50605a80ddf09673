"""Entra ID behind the desk's `Directory`, `Contacts` and `Mastered` ports, through
Microsoft Graph (`adapters.entra.graph`).

People are users (usernames as `adapters.entra.records` says), factors their registered
authentication methods (`adapters.entra.methods`), roles and privilege the roles file's
groups, requestable groups the catalogue file's (keyed by the group's `mailNickname`).
Graph cannot unlock or lock a sign-in (smart lockout lets go by itself), count sessions
(it revokes them all) or create people here (HR provisioning does): those are
`Unsupported`. A person synced from AD is mastered there (`master_of` says "ad"); the
writes Graph refuses for them are `Unsupported` saying so. Password resets go by e-mail as
`adapters.entra.passwords` says."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import cast, get_args

import aiohttp

from adapters.entra.auth import EntraSettings, graph_tokens
from adapters.entra.graph import Graph, Json
from adapters.entra.groups import EntraGroups
from adapters.entra.methods import Method, contact_points, first_of
from adapters.entra.passwords import ResetMail, patch_user, set_password
from adapters.entra.people import EntraPeople
from adapters.entra.records import (
    USER_FIELDS,
    by_email,
    synced,
)
from adapters.entra.signins import RecentLockouts
from adapters.mail.message import Mailer
from bot.clock import Clock, SystemClock
from bot.directory_files import CatalogueOverlay, RoleMap, load_catalogue, load_roles
from bot.masking import mask_email
from bot.models import FactorKind, Group, Person, Role
from bot.ports import ClearsByItself, ContactPoints, LinkSent, Master, NotFoundError, Unsupported
from bot.store import Store

ROLES: frozenset[str] = frozenset(get_args(Role))
OBJECT_ID = re.compile(r"^[0-9a-fA-F-]{36}$")
SMART_LOCKOUT_MINUTES = 1  # Entra's default lockout duration: 60 s, longer each time after
UNLOCK = (
    "Entra ID has no unlock: smart lockout lets the account go by itself, within about a "
    "minute the first time (longer after repeated lockouts); a password reset also works"
)


class EntraDirectory:
    """The ports over one Entra tenant. Build it with `from_settings`."""

    # It sends reset links itself (the SSPR link, or a temporary password, mailed by this
    # directory): the desk serves no reset page for its people (`bot.reset_links`).
    sends_reset_links = True

    def __init__(
        self,
        graph: Graph,
        *,
        roles: RoleMap,
        catalogue: CatalogueOverlay,
        reset: ResetMail,
        clock: Clock,
    ) -> None:
        self._graph = graph
        self._roles = roles
        self._catalogue = catalogue
        self._reset = reset
        self._people = EntraPeople(graph, roles, RecentLockouts(graph, clock))
        self._groups = EntraGroups(graph, catalogue)

    @classmethod
    def from_settings(
        cls,
        settings: EntraSettings,
        *,
        roles: RoleMap | None = None,
        catalogue: CatalogueOverlay | None = None,
        mailer: Mailer | None = None,
        store: Store | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> EntraDirectory:
        """The tenant the ITDESK_ENTRA_* settings name; reset mail goes through `mailer`,
        one per request key as `store` remembers it. Graph calls go over `session` when
        one is given (the caller closes it), else each over a session of its own."""
        s = settings
        graph = Graph(s.graph_url, graph_tokens(s), timeout=s.entra_timeout, sleep=sleep,
                      session=session)  # fmt: skip
        reset = ResetMail(graph, mailer, store, mode=s.entra_password_reset,
                          sspr_url=s.entra_sspr_url, order=s.code_addresses)  # fmt: skip
        return cls(
            graph,
            roles=roles if roles is not None else load_roles(s.roles_file),
            catalogue=catalogue if catalogue is not None else load_catalogue(s.catalogue_file),
            reset=reset,
            clock=clock or SystemClock(),
        )

    def __repr__(self) -> str:
        return f"EntraDirectory({self._graph.root!r})"

    # --- users --------------------------------------------------------------------------------

    async def _user(self, username: str) -> Json | None:
        return await self._people.user(username)

    async def _require(self, username: str) -> Json:
        user = await self._people.user(username)
        if user is None:
            raise NotFoundError("person", username)
        return user

    async def _methods(self, user: Json) -> list[Method]:
        return await self._people.methods(user)

    async def _person(self, user: Json) -> Person:
        return await self._people.person(user)

    async def person(self, username: str) -> Person | None:
        user = await self._user(username)
        return None if user is None else await self._person(user)

    async def person_by_email(self, email: str) -> Person | None:
        if not email.strip():
            return None
        found = await self._graph.all("/users", by_email(email), eventual=True)
        return await self._person(found[0]) if len(found) == 1 else None

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        if not OBJECT_ID.match(object_id.strip()):
            return None
        try:
            user = await self._graph.get(f"/users/{object_id.strip()}", {"$select": USER_FIELDS})
        except NotFoundError:
            return None
        return await self._person(user)

    async def people_with_role(self, role: str) -> list[Person]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; the roles are {', '.join(sorted(ROLES))}")
        members: dict[str, Json] = {}
        for group_id in self._roles.roles.get(cast(Role, role), []):
            group = await self._groups.find(group_id)
            if group is not None:
                members |= {u["id"]: u for u in await self._groups.members(group)}
        return await self._people.of(list(members.values()))

    async def reports_of(self, manager: str) -> list[Person]:
        boss = await self._user(manager)
        if boss is None:
            return []
        path = f"/users/{boss['id']}/directReports"
        return await self._people.of(await self._graph.all(path, {"$select": USER_FIELDS}))

    async def people(self) -> list[Person]:
        return await self._people.of(await self._graph.all("/users", {"$select": USER_FIELDS}))

    async def master_of(self, username: str) -> Master | None:
        user = await self._user(username)
        if user is None:
            return None
        return "ad" if synced(user) else "entra"

    # --- contacts -----------------------------------------------------------------------------

    async def contact_points(self, username: str) -> ContactPoints | None:
        user = await self._user(username)
        return None if user is None else contact_points(user, await self._methods(user))

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        user = await self._user(username)
        if user is None:
            return None
        method = first_of(await self._methods(user), factor)
        return method.address() if method else None

    async def recovery_address(self, username: str) -> str | None:
        points = await self.contact_points(username)
        address = self._reset.address(points) if points else None
        return mask_email(address) if address else None

    # --- groups -------------------------------------------------------------------------------

    async def group(self, group_id: str) -> Group | None:
        return await self._groups.group(group_id)

    async def groups(self) -> list[Group]:
        return await self._groups.groups()

    async def add_member(self, username: str, group_id: str) -> None:
        """Any group by id (the catalogue only decides what people may ask for)."""
        await self._groups.add(await self._require(username), group_id)

    async def remove_member(self, username: str, group_id: str) -> None:
        await self._groups.remove(await self._require(username), group_id)

    # --- account state ------------------------------------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        if locked:
            raise Unsupported("lock", "Entra ID locks a sign-in only after failed attempts")
        raise ClearsByItself(SMART_LOCKOUT_MINUTES, UNLOCK)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """`accountEnabled`; a synced account is disabled in AD."""
        user = await self._require(username)
        await patch_user(self._graph, user, {"accountEnabled": not disabled},
                         "disable" if disabled else "enable")  # fmt: skip

    async def revoke_sessions(self, username: str) -> int | None:
        """Every refresh token and session cookie is invalidated; Graph does not count them."""
        user = await self._require(username)
        await self._graph.call("POST", f"/users/{user['id']}/revokeSignInSessions")
        return None

    async def sessions(self, username: str) -> int:
        raise Unsupported("session_count", "Microsoft Graph does not report open sessions")

    async def reset_factors(self, username: str) -> None:
        """Delete every registered method but the password, each at its type's endpoint."""
        user = await self._require(username)
        for method in await self._methods(user):
            if method.collection is None:
                continue  # a type Graph lets no app delete
            path = f"/users/{user['id']}/authentication/{method.collection}/{method.id}"
            with contextlib.suppress(NotFoundError):  # gone already
                await self._graph.call("DELETE", path)

    async def create_person(self, person: Person) -> None:
        raise Unsupported("create_person", "accounts come from the organisation's provisioning")

    # --- passwords and links ------------------------------------------------------------------

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        if not password:
            raise ValueError("the password is empty")
        await set_password(self._graph, await self._require(username), password,
                           must_change=must_change)  # fmt: skip

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        user = await self._require(username)
        points = contact_points(user, await self._methods(user))
        return await self._reset.send(user, points, "reset_link", key)

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        user = await self._require(username)
        points = contact_points(user, await self._methods(user))
        return await self._reset.send(user, points, "enrolment_link", key)
