"""What the fake Okta org holds: users (with their lifecycle states and credential provider),
groups and memberships, factor enrolments, push transactions and the codes it sent, open
sessions and the System Log, as Okta's objects (the JSON its API answers). An org file is
seeded into it as `seed` says; the HTTP layer is `servers.okta`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.directory_files import RoleMap
from bot.models import Person
from bot.org import Org
from servers.ldif import org_groups

Json = dict[str, Any]
PUSH_LIFETIME = timedelta(minutes=5)


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(9)[:17]


class Refused(Exception):
    """An Okta error answer: HTTP status, errorCode, errorSummary."""

    def __init__(self, status: int, code: str, summary: str) -> None:
        super().__init__(summary)
        self.status, self.code, self.summary = status, code, summary


NOT_FOUND = (404, "E0000007")


@dataclass
class Transaction:
    id: str
    user_id: str
    factor_id: str
    expires_at: datetime
    number: int | None
    result: str = "WAITING"


@dataclass
class OktaOrgState:
    """One org. Every method is called under the server's lock."""

    clock: Clock
    users: dict[str, Json] = field(default_factory=dict)
    groups: dict[str, Json] = field(default_factory=dict)  # in creation order
    members: dict[str, list[str]] = field(default_factory=dict)  # group id -> user ids
    factors: dict[str, list[Json]] = field(default_factory=dict)  # user id -> enrolments
    transactions: dict[str, Transaction] = field(default_factory=dict)
    codes: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # factor id -> code
    totp_secrets: dict[str, bytes] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    logs: list[Json] = field(default_factory=list)
    reset_mails: list[str] = field(default_factory=list)  # addresses Okta mailed a link to

    # --- seeding ----------------------------------------------------------------------------

    def seed(self, org: Org, roles: RoleMap, *, ad_sourced: frozenset[str] = frozenset()
             ) -> dict[str, tuple[str, ...]]:  # fmt: skip
        """The org's people as Okta users (login = their e-mail; locked out as LOCKED_OUT,
        disabled as SUSPENDED; `ad_sourced` usernames with an ACTIVE_DIRECTORY provider),
        their factors enrolled in the org file's order, two sessions each, and the groups
        with the roles file's (`ldif.org_groups`). Returns each username's groups in the
        order Okta lists them."""
        ids = {u: new_id("00u") for u in org.users}
        self._group("Everyone", "BUILT_IN", list(ids.values()))
        for username, user in org.users.items():
            first, _, last = user.name.partition(" ")
            p: Json = {
                "login": user.email, "email": user.email, "firstName": first,
                "lastName": last or first, "displayName": user.name,
                "department": user.department or None, "title": user.title or None,
                "managerId": ids[user.manager] if user.manager else None,
                "secondEmail": user.recovery_email,
                "mobilePhone": org.phone_of(username) if "sms" in user.factors or user.phone
                else None,
            }  # fmt: skip
            status = "SUSPENDED" if user.disabled else "LOCKED_OUT" if user.locked else "ACTIVE"
            provider = (
                ("ACTIVE_DIRECTORY", org.domain) if username in ad_sourced else ("OKTA", "OKTA")
            )
            self.add_user(ids[username], {k: v for k, v in p.items() if v}, status, provider)
            for kind in user.factors:
                self.enrol(ids[username], kind, org.phone_of(username),
                           user.recovery_email or user.email, user.name)  # fmt: skip
            self.sessions[ids[username]] = 2
        memberships: dict[str, tuple[str, ...]] = {}
        for group_id, (_, _, people) in org_groups(org, roles).items():
            self._group(group_id, "OKTA_GROUP", [ids[m] for m in people])
            for m in people:
                memberships[m] = (*memberships.get(m, ()), group_id)
        return memberships

    def add_user(self, user_id: str, profile: Json, status: str, provider: tuple[str, str]
                 ) -> Json:  # fmt: skip
        now = iso(self.clock.now())
        user = {
            "id": user_id, "status": status, "created": now, "activated": now,
            "statusChanged": now, "lastLogin": None, "lastUpdated": now, "passwordChanged": now,
            "type": {"id": "oty_default"}, "profile": profile,
            "credentials": {"password": {}, "provider": {"type": provider[0], "name": provider[1]}},
        }  # fmt: skip
        self.users[user_id] = user
        self.factors.setdefault(user_id, [])
        return user

    def enrol(self, user_id: str, kind: str, phone: str, address: str, name: str) -> Json:
        """Enrol a factor of the desk's kind (push, sms, email, totp) as Okta holds it."""
        profiles: dict[str, tuple[str, str, Json]] = {
            "push": ("push", "OKTA", {"name": f"{name.split()[0]}'s iPhone", "platform": "IOS",
                                      "deviceType": "SmartPhone_IPhone", "version": "17.2"}),
            "sms": ("sms", "OKTA", {"phoneNumber": "+" + "".join(c for c in phone if c.isdigit())}),
            "email": ("email", "OKTA", {"email": address}),
            "totp": ("token:software:totp", "GOOGLE", {"credentialId": address}),
        }  # fmt: skip
        factor_type, provider, profile = profiles[kind]
        now = iso(self.clock.now())
        prefix = {"push": "opf", "sms": "mbl", "email": "emf"}.get(kind, "ost")
        factor = {"id": new_id(prefix), "factorType": factor_type, "provider": provider,
                  "vendorName": provider, "status": "ACTIVE", "created": now,
                  "lastUpdated": now, "profile": profile}  # fmt: skip
        if kind == "totp":
            self.totp_secrets[factor["id"]] = secrets.token_bytes(20)
        self.factors.setdefault(user_id, []).append(factor)
        return factor

    def _group(self, name: str, kind: str, members: list[str]) -> Json:
        now = iso(self.clock.now())
        group = {"id": new_id("00g"), "created": now, "lastUpdated": now,
                 "lastMembershipUpdated": now, "objectClass": ["okta:user_group"], "type": kind,
                 "profile": {"name": name, "description": name}}  # fmt: skip
        self.groups[group["id"]] = group
        self.members[group["id"]] = list(members)
        return group

    def add_group(self, name: str, kind: str = "OKTA_GROUP") -> Json:
        return self._group(name, kind, [])

    # --- reading ----------------------------------------------------------------------------

    def user(self, key: str) -> Json:
        """A user by id or login, as `GET /users/{id}` takes it."""
        found = self.users.get(key) or next(
            (u for u in self.users.values() if u["profile"]["login"].casefold() == key.casefold()),
            None,
        )
        if found is None:
            raise Refused(*NOT_FOUND, f"Not found: Resource not found: {key} (User)")
        return found

    def group(self, group_id: str) -> Json:
        if group_id not in self.groups:
            raise Refused(*NOT_FOUND, f"Not found: Resource not found: {group_id} (UserGroup)")
        return self.groups[group_id]

    def factor(self, user_id: str, factor_id: str) -> Json:
        found = next((f for f in self.factors.get(self.user(user_id)["id"], [])
                      if f["id"] == factor_id), None)  # fmt: skip
        if found is None:
            raise Refused(*NOT_FOUND, f"Not found: Resource not found: {factor_id} (UserFactor)")
        return found

    def groups_of(self, user_id: str) -> list[Json]:
        return [g for gid, g in self.groups.items() if user_id in self.members[gid]]

    # --- lockouts, the phone ----------------------------------------------------------------

    def lock_out(self, user_id: str, reason: str = "LOCKED_OUT") -> Json:
        """Failed sign-ins lock the user: LOCKED_OUT, and a `user.account.lock` event."""
        user = self.user(user_id)
        user["status"] = "LOCKED_OUT"
        event = {
            "uuid": secrets.token_hex(16), "published": iso(self.clock.now()),
            "eventType": "user.account.lock", "version": "0", "severity": "WARN",
            "displayMessage": "Max sign in attempts exceeded", "legacyEventType":
            "core.user_auth.account_locked",
            "actor": {"id": user["id"], "type": "User", "alternateId": user["profile"]["login"],
                      "displayName": user["profile"].get("displayName")},
            "outcome": {"result": "FAILURE", "reason": reason},
            "client": {"ipAddress": "198.51.100.7"},
            "target": [{"id": user["id"], "type": "User", "alternateId": user["profile"]["login"],
                        "displayName": user["profile"].get("displayName")}],
        }  # fmt: skip
        self.logs.append(event)
        return event

    def totp_code(self, factor_id: str) -> str:
        window = int(self.clock.now().timestamp()) // 30
        digest = hmac.new(self.totp_secrets[factor_id], window.to_bytes(8, "big"), hashlib.sha1)
        return f"{int.from_bytes(digest.digest()[-4:], 'big') % 1_000_000:06d}"

    def recorded(self, person: Person, memberships: dict[str, tuple[str, ...]]) -> Person:
        """The org file's person as this org records them: roles as memberships of the roles
        file's groups, the factors enrolled, no devices."""
        return person.model_copy(update={"groups": memberships.get(person.username, ()),
                                         "devices": ()})  # fmt: skip
