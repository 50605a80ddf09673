"""An org file as an OpenLDAP test tenant: its people (inetOrgPerson, with managers, mobiles,
a recovery address and their lock state as ppolicy keeps it), its groups (groupOfNames) and
the groups the roles file makes roles and privilege of, written as LDIF under one base. The
people come first, so that the memberof overlay gives each their `memberOf` in the order of
the groups after them."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.directory_files import RoleMap
from bot.models import Person
from bot.org import Org

ADMIN_LOCK = "000001010000Z"
RECOVERY_MAIL = "recoveryMail"  # the test schema's secondary address (see slapd.SCHEMA)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # when a locked person of an org without `now` was


@dataclass(frozen=True)
class Tenant:
    """One seeded org: where it is, each person's password, and what the directory holds
    of each person in the order it holds it."""

    base: str
    passwords: dict[str, str]
    memberships: dict[str, tuple[str, ...]]
    mobiles: dict[str, str]
    ldif: str = field(repr=False)

    @property
    def user_base(self) -> str:
        return f"ou=people,{self.base}"

    @property
    def group_base(self) -> str:
        return f"ou=groups,{self.base}"

    def dn(self, username: str) -> str:
        return f"uid={username},{self.user_base}"

    def group_dn(self, group_id: str) -> str:
        return f"cn={group_id},{self.group_base}"

    def recorded(self, person: Person) -> Person:
        """The org file's person as this directory records them: roles held as group
        memberships (the roles file's groups after the org's), factors as the addresses
        on record say (e-mail always, SMS with a mobile), devices left to device
        management."""
        factors = ("email", "sms") if person.username in self.mobiles else ("email",)
        return person.model_copy(update={
            "groups": self.memberships.get(person.username, ()), "factors": factors,
            "devices": (),
        })  # fmt: skip


def tenant_ldif(org: Org, roles: RoleMap, base: str) -> Tenant:
    """The org under `base` (which must not exist yet): an OU holding ou=people and
    ou=groups. A person's mobile is their org phone when they use SMS or have a phone on
    file; their recovery e-mail goes to `recoveryMail`."""
    people_base, group_base = f"ou=people,{base}", f"ou=groups,{base}"
    rdn = base.split(",", 1)[0].split("=", 1)[1]
    blocks = [
        _block(base, [("objectClass", "organizationalUnit"), ("ou", rdn)]),
        _block(people_base, [("objectClass", "organizationalUnit"), ("ou", "people")]),
        _block(group_base, [("objectClass", "organizationalUnit"), ("ou", "groups")]),
    ]
    passwords, mobiles = {}, {}
    for username, user in org.users.items():
        passwords[username] = f"Initial-{username}-1"
        if "sms" in user.factors or user.phone:
            mobiles[username] = org.phone_of(username)
        blocks.append(_block(f"uid={username},{people_base}", _person(
            org, username, people_base, passwords[username], mobiles.get(username)
        )))  # fmt: skip
    groups = org_groups(org, roles)
    memberships: dict[str, tuple[str, ...]] = {}
    for group_id, (description, owner, members) in groups.items():
        lines = [("objectClass", "groupOfNames"), ("cn", group_id), ("description", description)]
        if owner:
            lines.append(("owner", f"uid={owner},{people_base}"))
        lines += [("member", f"uid={m},{people_base}") for m in members] or [("member", "")]
        blocks.append(_block(f"cn={group_id},{group_base}", lines))
        for m in members:
            memberships[m] = (*memberships.get(m, ()), group_id)
    return Tenant(base, passwords, memberships, mobiles, "\n".join(blocks))


def _person(
    org: Org, username: str, people_base: str, password: str, mobile: str | None
) -> list[tuple[str, str]]:
    user = org.users[username]
    lines = [("objectClass", "inetOrgPerson")]
    if user.recovery_email:
        lines.append(("objectClass", "recoveryContact"))
    lines += [
        ("uid", username), ("cn", user.name), ("sn", user.name.split()[-1]),
        ("displayName", user.name), ("mail", user.email), ("userPassword", password),
    ]  # fmt: skip
    optional = {
        RECOVERY_MAIL: user.recovery_email,
        "mobile": mobile,
        "manager": f"uid={user.manager},{people_base}" if user.manager else None,
        "title": user.title,
        "departmentNumber": user.department,
        # ppolicy's lock: the time of a lock-out, or the administrator's lock (disabled)
        "pwdAccountLockedTime": ADMIN_LOCK if user.disabled else
        (org.now or _EPOCH).strftime("%Y%m%d%H%M%SZ") if user.locked else None,
    }  # fmt: skip
    return lines + [(name, value) for name, value in optional.items() if value]


def org_groups(org: Org, roles: RoleMap) -> dict[str, tuple[str, str | None, list[str]]]:
    """Group id -> (description, owner, members): the org's groups, then a group for each
    role someone holds and one for the privileged (the first the roles file names)."""
    groups = {
        gid: (g.name, g.owner, [u for u, user in org.users.items() if gid in user.groups])
        for gid, g in org.groups.items()
    }
    for role, ids in roles.roles.items():
        holders = [u for u, user in org.users.items() if role in user.roles]
        if ids and holders:
            groups[ids[0]] = (f"desk role {role}", None, holders)
    privileged = [u for u, user in org.users.items() if user.privileged]
    if roles.privileged and privileged:
        groups[roles.privileged[0]] = ("privileged accounts", None, privileged)
    return groups


def _block(dn: str, lines: list[tuple[str, str]]) -> str:
    return "".join(_line(name, value) for name, value in [("dn", dn), *lines]) + "\n"


def _line(name: str, value: str) -> str:
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<"))
    if safe and not value.endswith(" "):
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}\n"
