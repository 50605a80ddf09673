"""The records of the fake Graph's tenant: users, groups and memberships (in the order they
were made, as `memberOf` lists them), managers, authentication methods, passwords, sign-ins
and risky users, seedable from an org file and its roles file. A person can be marked as
synced from an on-premises AD, whose writes Graph then refuses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.directory_files import RoleMap
from bot.models import Person
from bot.org import Org

Json = dict[str, Any]
NAMESPACE = uuid.UUID("6c1d1c0e-6f7a-4d6e-9e55-9b1f5c0a7e21")
METHOD_TYPES = {
    "push": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "sms": "#microsoft.graph.phoneAuthenticationMethod",
    "totp": "#microsoft.graph.softwareOathAuthenticationMethod",
    "email": "#microsoft.graph.emailAuthenticationMethod",
}
PASSWORD_METHOD = "#microsoft.graph.passwordAuthenticationMethod"


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def object_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


@dataclass
class Tenant:
    """Everything the fake Graph holds, as Graph's JSON objects."""

    domain: str = "contract.test"
    users: dict[str, Json] = field(default_factory=dict)
    groups: dict[str, Json] = field(default_factory=dict)
    memberships: list[tuple[str, str]] = field(default_factory=list)  # (group id, user id)
    owners: dict[str, list[str]] = field(default_factory=dict)
    managers: dict[str, str] = field(default_factory=dict)
    methods: dict[str, list[Json]] = field(default_factory=dict)
    passwords: dict[str, Json] = field(default_factory=dict)
    revocations: dict[str, int] = field(default_factory=dict)
    sign_ins: list[Json] = field(default_factory=list)
    risky_users: list[Json] = field(default_factory=list)

    # --- making records ------------------------------------------------------------------

    def add_user(self, username: str, name: str, email: str, **extra: Any) -> Json:
        user = {
            "id": object_id("user", username), "userPrincipalName": f"{username}@{self.domain}",
            "mail": email, "otherMails": [], "mailNickname": username, "displayName": name,
            "department": None, "jobTitle": None, "accountEnabled": True,
            "onPremisesSyncEnabled": None, "onPremisesSamAccountName": None,
            "mobilePhone": None, **extra,
        }  # fmt: skip
        self.users[user["id"]] = user
        self.methods[user["id"]] = [{"@odata.type": PASSWORD_METHOD, "id": object_id(
            "password", username)}]  # fmt: skip
        return user

    def add_group(self, mail_nickname: str, name: str) -> Json:
        group = {"id": object_id("group", mail_nickname), "displayName": name,
                 "mailNickname": mail_nickname, "onPremisesSyncEnabled": None}  # fmt: skip
        self.groups[group["id"]] = group
        return group

    def add_method(self, user_id: str, factor: str, **data: Any) -> Json:
        n = len(self.methods[user_id])
        method = {"@odata.type": METHOD_TYPES[factor], "id": object_id(factor, f"{user_id}:{n}"),
                  **data}  # fmt: skip
        self.methods[user_id].append(method)
        return method

    def join(self, group_id: str, user_id: str) -> bool:
        if (group_id, user_id) in self.memberships:
            return False
        self.memberships.append((group_id, user_id))
        return True

    def add_sign_in(self, user_id: str, when: datetime, error_code: int = 0) -> Json:
        user = self.users[user_id]
        sign_in = {"id": str(uuid.uuid4()), "createdDateTime": stamp(when), "userId": user_id,
                   "userPrincipalName": user["userPrincipalName"],
                   "status": {"errorCode": error_code,
                              "failureReason": "locked" if error_code else None}}  # fmt: skip
        self.sign_ins.append(sign_in)
        return sign_in

    def add_risky_user(self, user_id: str, when: datetime, level: str = "high",
                       state: str = "atRisk") -> Json:  # fmt: skip
        user = self.users[user_id]
        risky = {"id": user_id, "userPrincipalName": user["userPrincipalName"],
                 "userDisplayName": user["displayName"], "riskLevel": level, "riskState": state,
                 "riskDetail": "none", "riskLastUpdatedDateTime": stamp(when),
                 "isDeleted": False, "isProcessing": False}  # fmt: skip
        self.risky_users = [r for r in self.risky_users if r["id"] != user_id] + [risky]
        return risky

    def sync(self, username: str, sam_account_name: str | None = None) -> None:
        """Mark the person as synced by Entra Connect from an on-premises AD."""
        user = self.user(username)
        user["onPremisesSyncEnabled"] = True
        user["onPremisesSamAccountName"] = sam_account_name or username

    def sync_group(self, mail_nickname: str) -> None:
        self.group(mail_nickname)["onPremisesSyncEnabled"] = True

    # --- finding records -----------------------------------------------------------------

    def user(self, username: str) -> Json:
        return next(u for u in self.users.values() if u["mailNickname"] == username)

    def group(self, mail_nickname: str) -> Json:
        return next(g for g in self.groups.values() if g["mailNickname"] == mail_nickname)

    def find_user(self, key: str) -> Json | None:
        """By object id or UPN, as `/users/{id | userPrincipalName}` takes it."""
        if key in self.users:
            return self.users[key]
        return next((u for u in self.users.values()
                     if u["userPrincipalName"].lower() == key.lower()), None)  # fmt: skip

    def member_of(self, user_id: str) -> list[Json]:
        return [self.groups[g] for g, u in self.memberships if u == user_id]

    def members(self, group_id: str) -> list[Json]:
        return [self.users[u] for g, u in self.memberships if g == group_id]


@dataclass(frozen=True)
class Seeded:
    """A tenant seeded from an org file, and how it records the org's people."""

    tenant: Tenant
    role_groups: dict[str, tuple[str, ...]]

    def recorded(self, person: Person) -> Person:
        """Roles held as memberships of the roles file's groups (after the org's groups),
        devices left to device management; factors as registered."""
        groups = (*person.groups, *self.role_groups.get(person.username, ()))
        return person.model_copy(update={"groups": groups, "devices": ()})


def seed(org: Org, roles: RoleMap, *, domain: str | None = None) -> Seeded:
    """The org's people and groups, the roles file's groups (each role's holders in its
    first), owners, managers, the factors as methods, and a lock-out as a sign-in failed
    with 50053 at the org's `now`."""
    tenant = Tenant(domain=domain or org.domain)
    for gid, group in org.groups.items():
        tenant.add_group(gid, group.name)
    for gid in dict.fromkeys([*(g for ids in roles.roles.values() for g in ids),
                              *roles.privileged]):  # fmt: skip
        if not any(g["mailNickname"] == gid for g in tenant.groups.values()):
            tenant.add_group(gid, gid)
    role_groups: dict[str, tuple[str, ...]] = {}
    for person in org.people():
        user = tenant.add_user(person.username, person.name, person.email,
                               accountEnabled=not person.disabled,
                               otherMails=[org.recovery_email_of(person.username)])  # fmt: skip
        for factor in person.factors:
            _register(tenant, org, user, factor)
        for gid in person.groups:
            tenant.join(object_id("group", gid), user["id"])
        held = tuple(roles.roles[r][0] for r in person.roles if roles.roles.get(r))
        for gid in held:
            tenant.join(object_id("group", gid), user["id"])
        role_groups[person.username] = held
        if person.locked and org.now is not None:
            tenant.add_sign_in(user["id"], org.now, 50053)
    for person in org.people():
        if person.manager:
            tenant.managers[object_id("user", person.username)] = object_id("user", person.manager)
    for gid, group in org.groups.items():
        if group.owner:
            tenant.owners[object_id("group", gid)] = [object_id("user", group.owner)]
    return Seeded(tenant, role_groups)


def _register(tenant: Tenant, org: Org, user: Json, factor: str) -> None:
    username = user["mailNickname"]
    if factor == "push":
        tenant.add_method(
            user["id"],
            "push",
            displayName=f"{user['displayName']}'s phone",
            deviceTag="SoftwareTokenActivated",
            phoneAppVersion="6.8",
        )
    elif factor == "sms":
        tenant.add_method(
            user["id"],
            "sms",
            phoneNumber=org.phone_of(username),
            phoneType="mobile",
            smsSignInState="notAllowedByPolicy",
        )
    elif factor == "email":
        tenant.add_method(user["id"], "email", emailAddress=org.recovery_email_of(username))
    else:
        tenant.add_method(user["id"], "totp", secretKey=None)
