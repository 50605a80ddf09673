"""An org file as a tenant of the session's Samba DC: its people in an OU of their own below
OU=People and its groups (with the roles file's, as `ldif.org_groups` makes them) in one
below OU=Groups, where the desk's service account has its delegations. The people the org
has locked out are locked out the way AD does it, by failed sign-ins (the DC takes no other
`lockoutTime` than 0), so their lock lasts the domain's lockout duration of real time. An
account name is the domain's alone, so a tenant is removed when its test ends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.directory_files import RoleMap
from bot.models import Person
from bot.org import Org
from servers import samba
from servers.ldif import org_groups


@dataclass(frozen=True)
class AdTenant:
    """One seeded org: its two OUs, each person's password and DN, and each person's groups
    in the order the DC lists them in `memberOf`."""

    user_base: str
    group_base: str
    passwords: dict[str, str]
    dns: dict[str, str]
    memberships: dict[str, tuple[str, ...]]
    mobiles: dict[str, str]

    def recorded(self, person: Person) -> Person:
        """The org file's person as AD records them: roles as memberships of the roles
        file's groups, factors from the addresses on record, no devices."""
        factors = ("email", "sms") if person.username in self.mobiles else ("email",)
        return person.model_copy(update={
            "groups": self.memberships.get(person.username, ()), "factors": factors,
            "devices": (),
        })  # fmt: skip


def seed_tenant(dc: samba.SambaDC, org: Org, roles: RoleMap) -> AdTenant:
    """Seed the org into two fresh OUs; the caller removes them (`remove_tenant`)."""
    name = f"t-{secrets.token_hex(4)}"
    user_base, group_base = f"OU={name},{dc.people_dn}", f"OU={name},{dc.groups_dn}"
    dc.create_ou(user_base)
    dc.create_ou(group_base)
    people, mobiles = [], {}
    for username, user in org.users.items():
        if "sms" in user.factors or user.phone:
            mobiles[username] = org.phone_of(username)
        people.append(samba.Person(
            username, user.name, password=f"Initial-{username}-1", mail=user.email,
            other_mailbox=(user.recovery_email,) if user.recovery_email else (),
            mobile=mobiles.get(username), manager=user.manager, title=user.title,
            department=user.department, disabled=user.disabled, base=user_base,
        ))  # fmt: skip
    groups = [samba.Group(gid, tuple(members), description, base=group_base)
              for gid, (description, _, members) in org_groups(org, roles).items()]  # fmt: skip
    dc.seed(people, groups)
    for person in people:
        if org.users[person.username].locked:
            dc.lock_out(person.dn)
    ids = {g.dn.lower(): g.name for g in groups}
    memberships = {
        p.username: tuple(ids[dn.lower()] for dn in dc.read(p.dn, "memberOf")["memberOf"]
                          if dn.lower() in ids)
        for p in people
    }  # fmt: skip
    return AdTenant(user_base, group_base, {p.username: p.password for p in people},
                    {p.username: p.dn for p in people}, memberships, mobiles)  # fmt: skip


def remove_tenant(dc: samba.SambaDC, tenant: AdTenant) -> None:
    dc.remove_tree(tenant.user_base)
    dc.remove_tree(tenant.group_base)


def settings(dc: samba.SambaDC, tenant: AdTenant, **more: object) -> dict[str, object]:
    """The desk's identity settings for the tenant, over LDAPS as the service account."""
    return {
        "directory": "ad",
        "ldap_url": dc.ldaps_url,
        "ldap_bind_dn": dc.service_dn,
        "ldap_bind_password": dc.service_password,
        "ldap_base_dn": dc.base_dn,
        "ldap_user_base": tenant.user_base,
        "ldap_group_base": tenant.group_base,
        "ldap_ca_file": str(dc.ca_file),
        "ldap_timeout": 5.0,
    } | more
