"""How a directory's entries hold the desk's people and groups, and where OpenLDAP and Active
Directory part ways: the attributes and filters to read them by, how an account's lock and
disable state is read and written, who counts as privileged and how a password is set. Each
server kind is one `Flavour`: `OPENLDAP` and `ACTIVE_DIRECTORY` (whose operations are
`adapters.directory.ad_ops`), by `ITDESK_DIRECTORY` in `FLAVOURS`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from ldap3 import MODIFY_DELETE, MODIFY_REPLACE

from adapters.directory import ad_ops
from adapters.directory.ldap_session import Changes, DirectoryRefused, Entry, Session
from bot.ports import Unsupported

# ppolicy's request and response control, and what its error codes mean
PPOLICY = "1.3.6.1.4.1.42.2.27.8.5.1"
PPOLICY_ERRORS = {
    0: "the password has expired",
    1: "the account is locked",
    2: "the password must be changed after a reset",
    3: "the password may not be changed",
    4: "the old password must be given",
    5: "the password is not good enough for the password policy",
    6: "the password is too short for the password policy",
    7: "the password was changed too recently for the password policy",
    8: "the password was used before (the password policy keeps a history)",
}
REFUSED_PASSWORD = frozenset({19, 53})  # constraintViolation, unwillingToPerform

# ppolicy's "locked by an administrator until one unlocks it": the desk's disabled account
ADMIN_LOCK = "000001010000Z"


@dataclass(frozen=True)
class AttributeMap:
    """Which attribute holds each of a person's details; a tuple is a fallback chain (the
    first one the entry has), None is "this directory does not record it"."""

    username: str
    email: str
    secondary_email: str | None
    mobile: str | None
    manager: str | None
    display_name: tuple[str, ...]
    title: str | None
    department: tuple[str, ...]

    def overridden(self, settings: Mapping[str, str]) -> AttributeMap:
        """The map with `ITDESK_LDAP_ATTRIBUTES` applied (a setting names one attribute, so
        it replaces a fallback chain; an empty value switches the detail off)."""
        changes: dict[str, object] = {}
        for key, attribute in settings.items():
            chained = isinstance(getattr(self, key), tuple)
            value = attribute.strip() or None
            changes[key] = (value,) if chained and value else () if chained else value
        return replace(self, **changes)  # type: ignore[arg-type]

    def requested(self) -> list[str]:
        named = [self.username, self.email, self.secondary_email, self.mobile, self.manager,
                 *self.display_name, self.title, *self.department]  # fmt: skip
        return [a for a in dict.fromkeys(named) if a]


@dataclass(frozen=True)
class AccountState:
    locked: bool = False
    disabled: bool = False


class Flavour(Protocol):
    """What differs between directory servers. The state methods get the person's entry as
    read with `state_attributes` and return the change to make, or None when the account is
    already as asked; a flavour that cannot make one raises `bot.ports.Unsupported`."""

    name: str
    user_filter: str
    group_filter: str
    attributes: AttributeMap
    group_id: str  # the attribute that is a group's id
    member: str  # the group attribute listing member DNs
    member_of: str | None  # the person attribute listing group DNs, where the server keeps one
    # where a person's cloud identity (the Entra object id Teams sends as `aadObjectId`) is
    # kept, and the prefix it is kept with; None where the server keeps none
    cloud_id: tuple[str, str] | None
    state_attributes: tuple[str, ...]  # operational ones are only returned when named
    lacks: frozenset[str]  # the port's capabilities the server cannot give (AD: "lock")

    def account_state(self, entry: Entry) -> AccountState: ...
    def lock(self, entry: Entry, now: datetime) -> Changes | None: ...
    def unlock(self, entry: Entry) -> Changes | None: ...
    def disable(self, entry: Entry) -> Changes | None: ...
    def enable(self, entry: Entry) -> Changes | None: ...
    def privileged(self, session: Session, entry: Entry) -> bool:
        """Privileged by the directory's own marks, besides the roles file's privileged
        groups (`session` for what only a read of the entry itself returns)."""
        ...

    def must_change(self, entry: Entry, must_change: bool) -> Changes | None:
        """The change that makes (or stops making) the person change the password at their
        next sign-in, after a password was set for them."""
        ...

    def set_password(self, session: Session, dn: str, password: str) -> None:
        """Set the password, as the server's password policy allows: a `ValueError` with
        the policy's reason when it refuses it."""
        ...


class OpenLdap:
    """OpenLDAP with inetOrgPerson people, groupOfNames groups, the memberof overlay and the
    ppolicy overlay: `pwdAccountLockedTime` holds the lock (the time of the lock-out, or
    `ADMIN_LOCK` for an account an administrator disabled), `pwdReset` the change at next
    sign-in. Deleting the lock time also clears `pwdFailureTime` (ppolicy does that itself;
    nobody may write it)."""

    name: str = "openldap"
    user_filter: str = "(objectClass=inetOrgPerson)"
    group_filter: str = "(objectClass=groupOfNames)"
    attributes: AttributeMap = AttributeMap(
        username="uid", email="mail", secondary_email=None, mobile="mobile", manager="manager",
        display_name=("displayName", "cn"), title="title", department=("departmentNumber", "ou"),
    )  # fmt: skip
    group_id: str = "cn"
    member: str = "member"
    member_of: str | None = "memberOf"
    cloud_id: tuple[str, str] | None = None
    state_attributes: tuple[str, ...] = ("pwdAccountLockedTime", "pwdReset")
    lacks: frozenset[str] = frozenset()

    def account_state(self, entry: Entry) -> AccountState:
        locked_at = entry.first("pwdAccountLockedTime")
        if locked_at is None:
            return AccountState()
        return AccountState(disabled=True) if locked_at == ADMIN_LOCK else AccountState(True)

    def lock(self, entry: Entry, now: datetime) -> Changes | None:
        if entry.first("pwdAccountLockedTime") is not None:  # locked, or disabled: left so
            return None
        at = now.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
        return {"pwdAccountLockedTime": [(MODIFY_REPLACE, [at])]}

    def unlock(self, entry: Entry) -> Changes | None:
        locked_at = entry.first("pwdAccountLockedTime")
        if locked_at is None or locked_at == ADMIN_LOCK:  # unlocking never enables
            return None
        # the value read, not any: a lock someone turned into a disable meanwhile stays
        return {"pwdAccountLockedTime": [(MODIFY_DELETE, [locked_at])]}

    def disable(self, entry: Entry) -> Changes | None:
        if entry.first("pwdAccountLockedTime") == ADMIN_LOCK:
            return None
        return {"pwdAccountLockedTime": [(MODIFY_REPLACE, [ADMIN_LOCK])]}

    def enable(self, entry: Entry) -> Changes | None:
        if entry.first("pwdAccountLockedTime") != ADMIN_LOCK:  # a lock-out is unlock's to end
            return None
        return {"pwdAccountLockedTime": [(MODIFY_DELETE, [ADMIN_LOCK])]}

    def privileged(self, session: Session, entry: Entry) -> bool:
        return False  # OpenLDAP marks nobody; the roles file's privileged groups do

    def must_change(self, entry: Entry, must_change: bool) -> Changes | None:
        flagged = (entry.first("pwdReset") or "").upper() == "TRUE"
        if flagged == must_change:
            return None
        if must_change:
            return {"pwdReset": [(MODIFY_REPLACE, ["TRUE"])]}
        return {"pwdReset": [(MODIFY_DELETE, [])]}

    def set_password(self, session: Session, dn: str, password: str) -> None:
        result = session.modify_password(dn, password, [(PPOLICY, False, None)])
        code = result.get("result")
        if code == 0:
            return
        if code not in REFUSED_PASSWORD:
            raise DirectoryRefused("a new password", result)
        control = (result.get("controls") or {}).get(PPOLICY, {}).get("value")
        error = _ppolicy_error(control) if isinstance(control, bytes) else None
        reason = PPOLICY_ERRORS.get(error, "") if error is not None else ""
        message = str(result.get("message") or "").strip() or str(result.get("description"))
        raise ValueError(f"{reason} ({message})" if reason else message)


def _ppolicy_error(value: bytes) -> int | None:
    """The error in a ppolicy response control: SEQUENCE { warning [0] OPTIONAL,
    error [1] ENUMERATED OPTIONAL }, short lengths only (it is a few bytes)."""
    if len(value) < 2 or value[0] != 0x30 or value[1] & 0x80:
        return None
    at = 2
    while at + 1 < len(value):
        tag, length = value[at], value[at + 1]
        body = value[at + 2 : at + 2 + length]
        if tag == 0x81 and body:
            return int.from_bytes(body, "big")
        at += 2 + length
    return None


class ActiveDirectory:
    """Active Directory (or a Samba AD DC): user objects, group objects, `memberOf` kept by
    the DC. Locked is the DC's own `msDS-User-Account-Control-Computed`, which knows the
    domain's lockout duration (a DC without it, none since Windows Server 2003: a
    `lockoutTime` set means locked until unlocked); unlocking sets `lockoutTime` to 0. Only
    failed sign-ins lock an account, so the desk cannot (`lacks` "lock"). Disabled is
    ACCOUNTDISABLE in `userAccountControl`, its other bits kept. Privileged is also
    `adminCount=1`, which AD's SDProp sets on members of its protected groups within the
    hour, or one of those groups in the account's `tokenGroups` (one more read of the
    entry, for the members SDProp has not reached; Samba has no SDProp). A password is
    an administrative reset of `unicodePwd`, over LDAPS only, and must-change is
    `pwdLastSet` 0."""

    name: str = "ad"
    user_filter: str = ad_ops.PEOPLE_FILTER
    group_filter: str = ad_ops.GROUP_FILTER
    attributes: AttributeMap = AttributeMap(
        username="sAMAccountName", email="mail", secondary_email="otherMailbox",
        mobile="mobile", manager="manager", display_name=("displayName", "cn"), title="title",
        department=("department",),
    )  # fmt: skip
    group_id: str = ad_ops.GROUP_ID
    member: str = "member"
    member_of: str | None = "memberOf"
    # Entra Connect writes the synced user's Entra object id back as "User_<id>"
    cloud_id: tuple[str, str] | None = ("msDS-ExternalDirectoryObjectId", "User_")
    state_attributes: tuple[str, ...] = (*ad_ops.STATE_ATTRIBUTES, "pwdLastSet")
    lacks: frozenset[str] = frozenset({"lock"})

    def account_state(self, entry: Entry) -> AccountState:
        locked = ad_ops.is_locked(entry.attributes, datetime.now(UTC), None)
        return AccountState(locked=locked, disabled=ad_ops.is_disabled(entry.attributes))

    def lock(self, entry: Entry, now: datetime) -> Changes | None:
        raise Unsupported("lock", "only failed sign-ins lock an Active Directory account")

    def unlock(self, entry: Entry) -> Changes | None:
        if _number(entry, "lockoutTime") == 0:
            return None
        return {"lockoutTime": [(MODIFY_REPLACE, ["0"])]}  # the one value AD takes there

    def disable(self, entry: Entry) -> Changes | None:
        return self._account_control(entry, disabled=True)

    def enable(self, entry: Entry) -> Changes | None:
        return self._account_control(entry, disabled=False)

    def _account_control(self, entry: Entry, *, disabled: bool) -> Changes | None:
        flags = _number(entry, "userAccountControl")
        wanted = flags | ad_ops.ACCOUNTDISABLE if disabled else flags & ~ad_ops.ACCOUNTDISABLE
        if wanted == flags:
            return None
        return {"userAccountControl": [(MODIFY_REPLACE, [str(wanted)])]}

    def privileged(self, session: Session, entry: Entry) -> bool:
        if ad_ops.is_privileged(entry.attributes):
            return True
        # A protected group among the groups the DC counts for the account, nested and
        # primary ones too: the members SDProp has not marked yet (Samba never marks them)
        return ad_ops.is_privileged({"tokenGroups": session.binary(entry.dn, "tokenGroups")})

    def must_change(self, entry: Entry, must_change: bool) -> Changes | None:
        if (_number(entry, "pwdLastSet") == 0) == must_change:
            return None
        # 0: change at the next sign-in; -1: the DC sets it to now, the password stands
        return {"pwdLastSet": [(MODIFY_REPLACE, ["0" if must_change else "-1"])]}

    def set_password(self, session: Session, dn: str, password: str) -> None:
        if not session.encrypted:  # AD refuses it too, but the password would have gone out
            raise ad_ops.InsecureConnection(
                "Active Directory takes passwords over an encrypted connection only: "
                "set ITDESK_LDAP_URL to ldaps://<the DC's name in its certificate>:636"
            )
        ad_ops.set_password(session.for_password(), dn, password, must_change=False)


def _number(entry: Entry, attribute: str) -> int:
    value = entry.first(attribute)
    return int(value) if value else 0


OPENLDAP = OpenLdap()
ACTIVE_DIRECTORY = ActiveDirectory()

# The server kinds by `ITDESK_DIRECTORY`.
FLAVOURS: dict[str, Flavour] = {"ldap": OPENLDAP, "ad": ACTIVE_DIRECTORY}
