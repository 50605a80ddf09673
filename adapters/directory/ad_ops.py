"""What is particular to Active Directory, for the desk's LDAP backend: its default attributes
and filters, how it says an account is locked, disabled or privileged, and the writes that
unlock, disable, enable, reset a password and change group members. Each write is a small
function over a bound ldap3 `Connection` (synchronous: the caller runs it off the event loop;
SYNC and SAFE_SYNC strategies, with or without `raise_exceptions`).

Failures are raised by who must act: `ValueError` (the new password breaks the domain's
policy: the person picks another), `PermissionError` (the desk's account lacks a
delegation: an operator), `LookupError` (no such entry), `InsecureConnection` (a password
on an unencrypted connection: configuration), `RuntimeError` for anything else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection
from ldap3.core.exceptions import LDAPOperationResult
from ldap3.utils.conv import escape_filter_chars

# ITDESK_LDAP_ATTRIBUTES keys -> where AD keeps them.
ATTRIBUTES: Mapping[str, str] = {
    "username": "sAMAccountName", "email": "mail", "secondary_email": "otherMailbox",
    "mobile": "mobile", "manager": "manager", "display_name": "displayName", "title": "title",
    "department": "department",
}  # fmt: skip
PEOPLE_FILTER = "(&(objectCategory=person)(objectClass=user))"
GROUP_FILTER = "(objectClass=group)"
GROUP_ID = "sAMAccountName"
# What the checks below read from a person's entry (tokenGroups only in a BASE search).
STATE_ATTRIBUTES = ("userAccountControl", "msDS-User-Account-Control-Computed", "lockoutTime",
                    "adminCount")  # fmt: skip

ACCOUNTDISABLE = 0x2
LOCKOUT = 0x10
PASSWORD_POLICY = "the new password does not meet the domain's password policy"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_NEVER = 2**63 - 1
# Groups AD protects with AdminSDHolder (adminCount=1): domain RIDs and BUILTIN RIDs.
_PROTECTED_RIDS = frozenset({500, 502, 512, 516, 518, 519, 521, 526, 527})
_PROTECTED_BUILTIN = frozenset({544, 548, 549, 550, 551, 552})


class InsecureConnection(RuntimeError):
    """A password was about to travel over a connection that is neither LDAPS nor StartTLS."""


def filetime_to_datetime(value: int) -> datetime | None:
    """A FILETIME (100 ns since 1601, UTC) as a datetime; None for 0 and 'never'."""
    if value <= 0 or value >= _NEVER:
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=value // 10)


def datetime_to_filetime(moment: datetime) -> int:
    """An aware datetime as a FILETIME."""
    return (moment - _FILETIME_EPOCH) // timedelta(microseconds=1) * 10


def is_locked(attrs: Mapping[str, Any], now: datetime, lockout_duration: timedelta | None) -> bool:
    """Locked out: the DC's own `msDS-User-Account-Control-Computed` when the entry has it,
    else a `lockoutTime` set less than `lockout_duration` ago (None: until unlocked)."""
    computed = _one(attrs, "msDS-User-Account-Control-Computed")
    if computed is not None:
        return bool(_int(computed) & LOCKOUT)
    since = filetime_to_datetime(_filetime(_one(attrs, "lockoutTime")))
    return since is not None and (lockout_duration is None or now < since + lockout_duration)


def is_disabled(attrs: Mapping[str, Any]) -> bool:
    """ACCOUNTDISABLE (0x2) is set in `userAccountControl`."""
    return bool(_int(_one(attrs, "userAccountControl")) & ACCOUNTDISABLE)


def is_privileged(attrs: Mapping[str, Any]) -> bool:
    """`adminCount=1` (AD's SDProp marks members of protected groups, within the hour), or
    a protected group among `tokenGroups` when read (SDProp has not run yet, or Samba, which
    sets adminCount only when it provisions the domain)."""
    if _int(_one(attrs, "adminCount")) == 1:
        return True
    groups = next((v for k, v in attrs.items() if k.lower() == "tokengroups"), None) or []
    return any(_protected(sid if isinstance(sid, bytes) else str(sid).encode()) for sid in groups)


def lockout_duration(conn: Connection, base_dn: str) -> timedelta | None:
    """The domain's `lockoutDuration`; None when locked accounts wait for an administrator."""
    value = _one(_read(conn, base_dn, ["lockoutDuration"]) or {}, "lockoutDuration")
    if isinstance(value, timedelta):
        return None if value in (timedelta(0), timedelta.max) else value
    ticks = abs(_int(value))
    return None if ticks in (0, 2**63) else timedelta(microseconds=ticks // 10)


def unlock(conn: Connection, dn: str) -> None:
    """Set `lockoutTime` to 0, the one value AD accepts there: the account signs in again
    (its bad password count is reset with it)."""
    _modify(conn, dn, {"lockoutTime": [(MODIFY_REPLACE, [0])]}, "lockoutTime")


def set_disabled(conn: Connection, dn: str, disabled: bool) -> None:
    """Set or clear ACCOUNTDISABLE (0x2) in `userAccountControl`, keeping its other bits;
    no write when it is already so."""
    flags = _int(_one(_read(conn, dn, ["userAccountControl"]) or {}, "userAccountControl"))
    wanted = flags | ACCOUNTDISABLE if disabled else flags & ~ACCOUNTDISABLE
    if wanted != flags:
        _modify(conn, dn, {"userAccountControl": [(MODIFY_REPLACE, [wanted])]}, "the account")


def set_password(conn: Connection, dn: str, password: str, must_change: bool) -> None:
    """Replace `unicodePwd` (an administrative reset, which sets `pwdLastSet` to now), then
    with `must_change` set `pwdLastSet` to 0 so the next sign-in must choose a new one.
    Refuses unless the connection is encrypted; AD refuses it too."""
    if not (conn.server.ssl or conn.tls_started):
        raise InsecureConnection("passwords are set over ldaps:// (or StartTLS) only")
    value = f'"{password}"'.encode("utf-16-le")
    _modify(conn, dn, {"unicodePwd": [(MODIFY_REPLACE, [value])]}, "the password")
    if must_change:
        _modify(conn, dn, {"pwdLastSet": [(MODIFY_REPLACE, [0])]}, "pwdLastSet")


def add_member(conn: Connection, group_dn: str, member_dn: str) -> None:
    """Add a value to the group's `member` (the member's `memberOf` follows); a member
    already there is success."""
    change = {"member": [(MODIFY_ADD, [member_dn])]}
    _modify(conn, group_dn, change, "the group's members", tolerate=frozenset({20, 68}))


def remove_member(conn: Connection, group_dn: str, member_dn: str) -> None:
    """Remove a value from the group's `member`; one already gone is success (AD answers
    'unwilling to perform', so the group is asked)."""
    change = {"member": [(MODIFY_DELETE, [member_dn])]}
    try:
        _modify(conn, group_dn, change, "the group's members", tolerate=frozenset({16}))
    except RuntimeError:
        if _read(conn, group_dn, ["1.1"], f"(member={escape_filter_chars(member_dn)})"):
            raise


def _modify(
    conn: Connection, dn: str, changes: dict[str, Any], what: str,
    tolerate: frozenset[int] = frozenset(),
) -> None:  # fmt: skip
    try:
        outcome = conn.modify(dn, changes)
        result = outcome[1] if isinstance(outcome, tuple) else conn.result
    except LDAPOperationResult as exc:
        result = {"result": exc.result, "description": exc.description, "message": exc.message}
    code = result["result"]
    if code == 0 or code in tolerate:
        return
    if "0000052D" in str(result.get("message")).upper():
        raise ValueError(PASSWORD_POLICY)
    if code == 50:
        raise PermissionError(f"the directory does not let the desk's account change {what}")
    if code == 32:
        raise LookupError(f"no directory entry to change {what} on")
    raise RuntimeError(f"the directory refused to change {what}: {result.get('description')}")


def _read(
    conn: Connection, dn: str, attributes: list[str], search: str = "(objectClass=*)"
) -> dict[str, Any] | None:
    """The entry's attributes, None if it does not match `search`; LookupError if no entry."""
    try:
        outcome = conn.search(dn, search, BASE, attributes=attributes)
        result, response = outcome[1:3] if isinstance(outcome, tuple) else (conn.result, None)
        response = conn.response if response is None else response
    except LDAPOperationResult as exc:
        result, response = {"result": exc.result}, []
    if result["result"] == 32:
        raise LookupError("no such directory entry")
    entries = [r for r in response or [] if r.get("type") == "searchResEntry"]
    return dict(entries[0]["attributes"]) if entries else None


def _one(attrs: Mapping[str, Any], name: str) -> Any:
    for key, value in attrs.items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return value[0] if value else None
            return value
    return None


def _int(value: Any) -> int:
    if isinstance(value, bytes):
        value = value.decode()
    return int(value) if value not in (None, "") else 0


def _filetime(value: Any) -> int:
    """ldap3 hands a timestamp over as a datetime when it knows the schema."""
    if isinstance(value, datetime):
        return max(datetime_to_filetime(value), 0) if value.tzinfo else _NEVER
    return _int(value)


def _protected(sid: bytes) -> bool:
    """A binary SID (revision, count, 6-byte authority, little-endian sub-authorities) of a
    protected group in this domain (S-1-5-21-...-RID) or BUILTIN (S-1-5-32-RID)."""
    if len(sid) < 12 or int.from_bytes(sid[2:8], "big") != 5:
        return False
    subs = [int.from_bytes(sid[8 + 4 * i : 12 + 4 * i], "little") for i in range(sid[1])]
    if len(subs) == 5 and subs[0] == 21:
        return subs[4] in _PROTECTED_RIDS
    return len(subs) == 2 and subs[0] == 32 and subs[1] in _PROTECTED_BUILTIN
