"""The LDAP directory behind the desk's `Directory` and `Contacts` ports: OpenLDAP
(ITDESK_DIRECTORY=ldap: inetOrgPerson people, groupOfNames groups, ppolicy's account state)
or Active Directory (=ad: user and group objects, lockoutTime, userAccountControl, unicodePwd
over LDAPS). Roles and privilege come from the roles file and the requestable groups from
the catalogue file (`bot.directory_files`). What a directory cannot do (sessions, sign-in
factors, creating people, sending links; AD: locking) is `Unsupported`. The server-specific
parts are a `Flavour` (`adapters.directory.ldap_schema`). It keeps no
`ChangeLog`: OpenLDAP's own record of changes (the accesslog overlay) is a database of its
own the desk would need to be given, so `itdesk audit reconcile` has nothing to read here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast, get_args

from ldap3 import MODIFY_ADD, MODIFY_DELETE

from adapters.directory.ldap_conn import Connections, Endpoint
from adapters.directory.ldap_lockouts import LdapLockouts
from adapters.directory.ldap_records import (
    Known,
    Layout,
    Records,
    any_of,
    dn_key,
    equals,
    unambiguous,
)
from adapters.directory.ldap_session import Changes, DirectoryRefused, Entry, Session
from bot.clock import Clock, SystemClock
from bot.directory_files import CatalogueOverlay, RoleMap, load_catalogue, load_roles
from bot.masking import mask_email, mask_phone
from bot.models import FactorKind, Group, Person, Role
from bot.ports import ContactPoints, LinkSent, NotFoundError, Unsupported
from bot.settings_identity import IdentitySettings

ROLES: frozenset[str] = frozenset(get_args(Role))


class LdapDirectory:
    """The `Directory` and `Contacts` ports over an LDAP server. Build it with
    `from_settings`; `close` ends its connections."""

    def __init__(
        self, connections: Connections, layout: Layout, *, clock: Clock | None = None
    ) -> None:
        self._connections = connections
        self._records = Records(layout)
        self._layout = layout
        self._clock = clock or SystemClock()

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        roles: RoleMap | None = None,
        catalogue: CatalogueOverlay | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> LdapDirectory:
        """The directory the ITDESK_LDAP_* settings describe (`roles` and `catalogue`
        default to the files the settings name)."""
        s = settings
        if not (s.ldap_url and s.ldap_bind_dn and s.ldap_bind_password and s.ldap_base_dn):
            raise ValueError("ITDESK_LDAP_URL, _BIND_DN, _BIND_PASSWORD and _BASE_DN are needed")
        endpoint = Endpoint(s.ldap_url, s.ldap_bind_dn, s.ldap_bind_password, s.ldap_ca_file,
                            s.ldap_timeout)  # fmt: skip
        roles = roles if roles is not None else load_roles(s.roles_file)
        catalogue = catalogue if catalogue is not None else load_catalogue(s.catalogue_file)
        layout = Layout.of(s, s.ldap_base_dn, roles, catalogue)
        return cls(Connections(endpoint, sleep=sleep), layout, clock=clock)

    def __repr__(self) -> str:
        return f"LdapDirectory({self._connections.endpoint.url!r})"

    def close(self) -> None:
        self._connections.close()

    def lockouts(self) -> LdapLockouts:
        """The directory's new lockouts, as a `LockoutFeed` over the same connections."""
        return LdapLockouts(self._connections, self._layout, self._clock)

    # --- reading ----------------------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        def read(s: Session) -> Person | None:
            entry = self._records.by_username(s, username)
            return self._records.person(s, entry) if entry else None

        return await self._connections.read(read)

    async def person_by_email(self, email: str) -> Person | None:
        address, a = email.strip(), self._layout.attributes
        if not address:
            return None
        where = any_of(equals(attr, address) for attr in (a.email, a.secondary_email) if attr)

        def read(s: Session) -> Person | None:
            entry = self._records.person_entry(s, where, address)
            # and the username it has must be its alone, as `person` would find it
            same = self._records.by_username(s, entry.first(a.username) or "") if entry else None
            if entry is None or same is None or dn_key(same.dn) != dn_key(entry.dn):
                return None
            return self._records.person(s, entry)

        return await self._connections.read(read)

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        kept = self._layout.flavour.cloud_id
        if kept is None or not object_id.strip():
            return None
        attribute, prefix = kept
        where = equals(attribute, prefix + object_id.strip())

        def read(s: Session) -> Person | None:
            entry = self._records.person_entry(s, where, object_id)
            return self._records.person(s, entry) if entry else None

        return await self._connections.read(read)

    async def people_with_role(self, role: str) -> list[Person]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; the roles are {', '.join(sorted(ROLES))}")
        group_ids = self._layout.roles.roles.get(cast(Role, role), [])
        member = self._layout.flavour.member

        def read(s: Session) -> list[Person]:
            members: dict[str, str] = {}
            for group in self._records.group_entries(s, group_ids, [member]):
                members |= {dn_key(m): m for m in group.values(member) if m.strip()}
            entries = [s.read(dn, self._layout.person_attributes, self._layout.user_filter)
                       for dn in members.values()]  # fmt: skip
            username = self._layout.attributes.username
            return [self._records.person(s, e) for e in entries if e and e.first(username)]

        return _by_username(await self._connections.read(read))

    async def reports_of(self, manager: str) -> list[Person]:
        def read(s: Session) -> list[Person]:
            boss = self._records.by_username(s, manager)
            if boss is None or not self._layout.attributes.manager:
                return []
            entries = self._records.people_entries(
                s, equals(self._layout.attributes.manager, boss.dn)
            )
            return [self._records.person(s, e) for e in entries]

        return _by_username(await self._connections.read(read))

    async def people(self) -> list[Person]:
        def read(s: Session) -> list[Person]:
            entries = unambiguous(self._records.people_entries(s, "", paged=True),
                                  self._layout.attributes.username)  # fmt: skip
            known: Known = self._records.known(s, entries)
            return [self._records.person(s, e, known) for e in entries]

        return _by_username(await self._connections.read(read))

    async def group(self, group_id: str) -> Group | None:
        if self._layout.catalogue.group(group_id) is None:
            return None  # not requestable: the desk does not offer it

        def read(s: Session) -> Group | None:
            entry = self._records.group_entry(s, group_id, self._layout.group_attributes)
            return self._records.group(s, entry) if entry else None

        return await self._connections.read(read)

    async def groups(self) -> list[Group]:
        ids = list(self._layout.catalogue.groups)

        def read(s: Session) -> list[Group]:
            entries = self._records.group_entries(s, ids, self._layout.group_attributes)
            return [g for e in entries if (g := self._records.group(s, e))]

        return sorted(await self._connections.read(read), key=lambda g: g.id)

    async def contact_points(self, username: str) -> ContactPoints | None:
        def read(s: Session) -> ContactPoints | None:
            entry = self._records.by_username(s, username)
            return self._records.contact_points(entry) if entry else None

        return await self._connections.read(read)

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        points = await self.contact_points(username)
        if points is None:
            return None
        if factor == "sms":
            return mask_phone(points.mobile) if points.mobile else None
        if factor == "email":
            address = points.secondary_email or points.email
            return mask_email(address) if address else None
        return None  # push and authenticator apps are registered with an IdP, not here

    async def recovery_address(self, username: str) -> str | None:
        return await self.factor_address(username, "email")

    # --- account state ------------------------------------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        """Lock and unlock as the flavour does it (OpenLDAP: `pwdAccountLockedTime` set to now,
        or deleted; AD: unlock only, `lockoutTime` 0). A disabled account stays disabled."""
        self._require("lock" if locked else "unlock")
        now, flavour = self._clock.now(), self._layout.flavour
        change = (lambda e: flavour.lock(e, now)) if locked else flavour.unlock
        await self._account(username, change)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable and enable as the flavour does it (OpenLDAP: ppolicy's administrator lock;
        AD: ACCOUNTDISABLE in `userAccountControl`); a lock-out is left for unlocking."""
        self._require("disable" if disabled else "enable")
        flavour = self._layout.flavour
        await self._account(username, flavour.disable if disabled else flavour.enable)

    def _require(self, capability: str) -> None:
        if capability in self._layout.flavour.lacks:  # said before anyone is looked up
            raise Unsupported(capability, f"{self._layout.flavour.name} cannot do it")

    async def _account(self, username: str, change: Callable[[Entry], Changes | None]) -> None:
        def write(s: Session) -> None:
            entry = self._records.require(s, username)
            changes = change(entry)
            if changes:
                s.modify(entry.dn, changes)

        await self._connections.write(write)

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        """Set the password as the flavour does (OpenLDAP: the password modify operation; AD:
        `unicodePwd` over LDAPS), as the directory's password policy allows (a `ValueError`
        with its reason when it refuses it), and mark it to be changed at the next sign-in
        (`pwdReset`; AD: `pwdLastSet` 0) or not."""
        if not password:
            raise ValueError("the password is empty")
        flavour = self._layout.flavour

        def write(s: Session) -> None:
            entry = self._records.require(s, username)
            flavour.set_password(s, entry.dn, password)
            after = s.read(entry.dn, list(flavour.state_attributes)) or entry
            changes = flavour.must_change(after, must_change)
            if changes:
                s.modify(entry.dn, changes)

        await self._connections.write(write)

    # --- groups -------------------------------------------------------------------------------

    async def add_member(self, username: str, group_id: str) -> None:
        """Any group by id (the catalogue only decides what people may ask for)."""
        await self._membership(username, group_id, MODIFY_ADD)

    async def remove_member(self, username: str, group_id: str) -> None:
        await self._membership(username, group_id, MODIFY_DELETE)

    async def _membership(self, username: str, group_id: str, operation: str) -> None:
        self._require("group_membership")
        member = self._layout.flavour.member

        def write(s: Session) -> None:
            person = self._records.require(s, username)
            group = self._records.group_entry(s, group_id, [])
            if group is None:
                raise NotFoundError("group", group_id)
            try:
                s.modify(group.dn, {member: [(operation, [person.dn])]})
            except DirectoryRefused:
                # AD refuses a member already there (entryAlreadyExists) or already gone
                # (unwillingToPerform) where OpenLDAP says no change: as asked is success
                listed = s.read(group.dn, ["1.1"], equals(member, person.dn)) is not None
                if listed != (operation == MODIFY_ADD):
                    raise

        await self._connections.write(write)

    # --- what OpenLDAP does not do -------------------------------------------------------------

    async def revoke_sessions(self, username: str) -> int | None:
        """A directory keeps no sign-in sessions: the applications that use it do."""
        raise Unsupported("revoke_sessions", "an LDAP directory keeps no sign-in sessions")

    async def sessions(self, username: str) -> int:
        raise Unsupported("session_count", "an LDAP directory keeps no sign-in sessions")

    async def reset_factors(self, username: str) -> None:
        """MFA factors are registered with an identity provider in front of the directory;
        the directory only holds the addresses codes go to."""
        raise Unsupported("reset_factors", "the directory holds no registered sign-in factors")

    async def create_person(self, person: Person) -> None:
        """Accounts in a real directory come from the HR system's provisioning (with the
        uid/gid numbers, home directories and object classes only it knows); the desk does
        not invent them."""
        raise Unsupported("create_person", "accounts come from the organisation's provisioning")

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        """OpenLDAP mints no reset links: the desk's own reset page will (in the works)."""
        raise Unsupported("reset_link", "OpenLDAP sends no reset links")

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        raise Unsupported("enrolment_link", "OpenLDAP sends no enrolment links")


def _by_username(people: list[Person]) -> list[Person]:
    return sorted({p.username: p for p in people}.values(), key=lambda p: p.username)
