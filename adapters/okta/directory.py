"""Okta behind the desk's `Directory`, `Contacts` and `Mastered` ports (ITDESK_DIRECTORY=okta).

People are Okta users, known by the local part of their login (`adapters.okta.records`);
groups are known by their `profile.name`. Roles and privilege come from the roles file's
groups and the requestable groups from the catalogue file (`bot.directory_files`).

- Locked is `LOCKED_OUT`; disabled is `SUSPENDED` (or `DEPROVISIONED`). Okta locks accounts
  only after failed sign-ins, so `lock` is `Unsupported`. Disabling suspends; a locked-out
  user is unlocked first, as Okta suspends only active users.
- A user mastered in Active Directory or LDAP (`credentials.provider.type`) is unlocked and
  has their password reset there: `Unsupported` saying so, before Okta is asked.
- A reset link is Okta's own e-mail (`reset_password?sendEmail=true`) to the person's primary
  address; the desk never sees the link. Okta cannot de-duplicate it by the desk's key: a
  retry sends another, and the newer link replaces the older.
- Sessions are revoked (`DELETE /users/{id}/sessions`) but not counted; an enrolment link is
  Okta's own prompt at the next sign-in after a factor reset; people come from HR
  provisioning and passwords from Okta's own reset flow, so those three are `Unsupported`.
- The memberships of an `APP_GROUP` (imported from AD or an app) are changed at its source.
- `people()` lists users as Okta's list does: deactivated (`DEPROVISIONED`) users are not
  in it, though `person` still finds them, disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import cast, get_args

import aiohttp

from adapters.okta.auth import okta_credentials
from adapters.okta.client import OktaClient, OktaError
from adapters.okta.people import GROUPS, USERS, OktaPeople
from adapters.okta.records import (
    APP_GROUP,
    DISABLED,
    Json,
    active_factors,
    contact_points,
    factor_address,
    group_name,
    login_of,
    master_of,
    profile,
    quoted,
)
from bot.clock import Clock, SystemClock
from bot.directory_files import CatalogueOverlay, RoleMap, load_catalogue, load_roles
from bot.masking import mask_email
from bot.models import FactorKind, Group, Person, Role
from bot.ports import ContactPoints, LinkSent, Master, NotFoundError, Unsupported
from bot.settings_cloud import CloudSettings
from bot.settings_identity import IdentitySettings

ROLES: frozenset[str] = frozenset(get_args(Role))
MASTER_NAMES = {"ad": "Active Directory", "ldap": "an LDAP directory"}


class OktaDirectory:
    """The ports over one Okta org. Build it with `from_settings`."""

    # It sends reset links itself (Okta mails its own reset e-mail): the desk serves no
    # reset page for its people (`bot.reset_links`).
    sends_reset_links = True

    def __init__(
        self, client: OktaClient, *, roles: RoleMap, catalogue: CatalogueOverlay,
        clock: Clock | None = None,
    ) -> None:  # fmt: skip
        self.client = client
        self.people_of = OktaPeople(client, roles)
        self._roles = roles
        self._catalogue = catalogue
        self._clock = clock or SystemClock()

    @classmethod
    def from_settings(
        cls,
        settings: CloudSettings,
        *,
        roles: RoleMap | None = None,
        catalogue: CatalogueOverlay | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> OktaDirectory:
        """The org ITDESK_OKTA_* describe; `roles` and `catalogue` default to the files
        ITDESK_ROLES_FILE and ITDESK_CATALOGUE_FILE name (with the identity settings)."""
        tokens, scheme = okta_credentials(settings, session=session)
        assert settings.okta_url is not None  # okta_credentials checked it
        files = settings if isinstance(settings, IdentitySettings) else None
        if roles is None:
            roles = load_roles(files.roles_file if files else None)
        if catalogue is None:
            catalogue = load_catalogue(files.catalogue_file if files else None)
        client = OktaClient(settings.okta_url, tokens, scheme, timeout=settings.okta_timeout,
                            clock=clock, sleep=sleep, session=session)  # fmt: skip
        return cls(client, roles=roles, catalogue=catalogue, clock=clock)

    def __repr__(self) -> str:
        return f"OktaDirectory({self.client.base_url!r})"

    # --- reading ----------------------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        user = await self.people_of.user(username)
        return None if user is None else await self.people_of.person(user)

    async def person_by_email(self, email: str) -> Person | None:
        user = await self.people_of.by_email(email)
        return None if user is None else await self.people_of.person(user)

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        """Okta records no Entra object id."""
        return None

    async def people_with_role(self, role: str) -> list[Person]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; the roles are {', '.join(sorted(ROLES))}")
        members: dict[str, Json] = {}
        for name in self._roles.roles.get(cast(Role, role), []):
            group = await self.people_of.group(name)
            if group is not None:
                members |= {str(u["id"]): u for u in await self.people_of.members(group["id"])}
        return await self.people_of.people(list(members.values()))

    async def reports_of(self, manager: str) -> list[Person]:
        boss = await self.people_of.user(manager)
        if boss is None:
            return []
        by_id = f"profile.managerId eq {quoted(str(boss['id']))}"
        by_login = f"profile.manager eq {quoted(login_of(boss))}"
        return await self.people_of.people(await self.people_of.search(f"{by_id} or {by_login}"))

    async def people(self) -> list[Person]:
        return await self.people_of.people(await self.client.every(USERS))

    async def group(self, group_id: str) -> Group | None:
        overlay = self._catalogue.group(group_id)
        if overlay is None:
            return None  # not requestable: the desk does not offer it
        found = await self.people_of.group(group_id)
        if found is None:
            return None
        return Group(id=group_name(found), **overlay.model_dump())

    async def groups(self) -> list[Group]:
        found = [await self.group(gid) for gid in self._catalogue.groups]
        return sorted((g for g in found if g is not None), key=lambda g: g.id)

    async def contact_points(self, username: str) -> ContactPoints | None:
        user = await self.people_of.user(username)
        return None if user is None else contact_points(user)

    async def master_of(self, username: str) -> Master | None:
        user = await self.people_of.user(username)
        return None if user is None else master_of(user)

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        user = await self.people_of.user(username)
        if user is None:
            return None
        enrolled = active_factors(await self.people_of.factors(str(user["id"]))).get(factor)
        return None if enrolled is None else factor_address(factor, enrolled)

    async def recovery_address(self, username: str) -> str | None:
        """Where Okta's reset e-mail goes: the primary address."""
        points = await self.contact_points(username)
        return mask_email(points.email) if points is not None and points.email else None

    # --- account state ----------------------------------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        if locked:
            raise Unsupported("lock", "Okta locks an account only after failed sign-ins")
        user = await self._mastered_here(username, "unlock")
        if user.get("status") == "LOCKED_OUT":
            await self._lifecycle(user, "unlock")

    async def set_disabled(self, username: str, disabled: bool) -> None:
        user = await self.people_of.require(username)
        status = str(user.get("status") or "")
        if disabled and status not in DISABLED:
            if status == "LOCKED_OUT":  # Okta suspends only an active user
                await self._mastered_here(username, "disable")
                await self._lifecycle(user, "unlock")
            await self._lifecycle(user, "suspend")
        elif not disabled and status == "SUSPENDED":
            await self._lifecycle(user, "unsuspend")
        elif not disabled and status == "DEPROVISIONED":
            raise OktaError(403, summary=f"{username}'s Okta account is deactivated: an "
                            "administrator reactivates it")  # fmt: skip

    async def reset_factors(self, username: str) -> None:
        user = await self.people_of.require(username)
        if active_factors(await self.people_of.factors(str(user["id"]))):
            await self._lifecycle(user, "reset_factors")

    async def revoke_sessions(self, username: str) -> int | None:
        """Ends the person's Okta sessions; Okta does not say how many there were."""
        user = await self.people_of.require(username)
        await self.client.delete(f"{USERS}/{user['id']}/sessions")
        return None

    async def sessions(self, username: str) -> int:
        raise Unsupported("session_count", "Okta does not count a person's sessions")

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        user = await self._mastered_here(username, "reset_link")
        address = str(profile(user).get("email") or "")
        if not address:
            raise NotFoundError("email", username)
        await self._lifecycle(user, "reset_password", {"sendEmail": "true"})
        return LinkSent(address=mask_email(address))

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        raise Unsupported("enrolment_link", "Okta asks for a new factor at the next sign-in")

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        raise Unsupported("set_password", "Okta resets passwords by its own e-mailed link")

    async def create_person(self, person: Person) -> None:
        raise Unsupported("create_person", "accounts come from the organisation's provisioning")

    # --- groups -----------------------------------------------------------------------------

    async def add_member(self, username: str, group_id: str) -> None:
        """Any Okta group by name (the catalogue only decides what people may ask for)."""
        user, group = await self._membership(username, group_id)
        await self.client.put(f"{GROUPS}/{group['id']}/users/{user['id']}")

    async def remove_member(self, username: str, group_id: str) -> None:
        user, group = await self._membership(username, group_id)
        # both exist, so a 404 says the membership is not there: as asked
        with contextlib.suppress(NotFoundError):
            await self.client.delete(f"{GROUPS}/{group['id']}/users/{user['id']}")

    async def _membership(self, username: str, group_id: str) -> tuple[Json, Json]:
        user = await self.people_of.require(username)
        group = await self.people_of.require_group(group_id)
        if group.get("type") == APP_GROUP:
            raise Unsupported("group_membership", f"{group_id} is imported from a directory "
                              "or an app: its members are changed there")  # fmt: skip
        return user, group

    # --- helpers ----------------------------------------------------------------------------

    async def _mastered_here(self, username: str, capability: str) -> Json:
        user = await self.people_of.require(username)
        master = master_of(user)
        if master != "okta":
            where = MASTER_NAMES.get(master, master)
            raise Unsupported(capability, f"{username}'s account is mastered in {where}: it is "
                              "changed there")  # fmt: skip
        return user

    async def _lifecycle(self, user: Json, operation: str, params: dict[str, str] | None = None
                         ) -> None:  # fmt: skip
        await self.client.post(f"{USERS}/{user['id']}/lifecycle/{operation}", params=params)
