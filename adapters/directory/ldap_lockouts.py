"""New lockouts in an LDAP directory, as a `LockoutFeed`, read over the directory's own
connections.

- Active Directory: people with `lockoutTime>=` the cursor (a FILETIME, 100 ns since 1601;
  AD sets it when failed sign-ins lock the account and 0 once it is unlocked). A lockout's
  id is "<username>@<lockoutTime>": the same lockout read twice is the same id, a later one
  a new id.
- OpenLDAP with ppolicy: people with `pwdAccountLockedTime=*` (the generalized time of the
  lock-out). `000001010000Z` is ppolicy's "locked by an administrator until one unlocks
  it" (the desk's disabled account, `ldap_schema.ADMIN_LOCK`): it has no time of its own,
  so its time is the entry's `modifyTimestamp` and its reason says an administrator did it.

The cursor is the time of the newest lockout seen, ISO 8601; a first poll starts now. A page
holds the lockouts from the cursor's time on, so one at that very time comes again and the
desk drops it by its id."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.directory import ad_ops
from adapters.directory.ldap_conn import Connections
from adapters.directory.ldap_records import Layout
from adapters.directory.ldap_schema import ADMIN_LOCK
from adapters.directory.ldap_session import Entry, Session
from bot.clock import Clock
from bot.ports import Lockout, LockoutPage

FAILED_SIGN_INS = "failed sign-ins"
BY_ADMINISTRATOR = "an administrator's lock"
SOURCES = {"ad": "ad", "openldap": "ldap"}


class LdapLockouts:
    """The lockout feed of one LDAP directory (build it with `LdapDirectory.lockouts`)."""

    def __init__(self, connections: Connections, layout: Layout, clock: Clock) -> None:
        self._connections = connections
        self._layout = layout
        self._clock = clock
        self._ad = layout.flavour.name == "ad"
        self.source = SOURCES.get(layout.flavour.name, layout.flavour.name)

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        if cursor is None:  # whole seconds: ppolicy keeps no finer time of a lock-out
            return LockoutPage(cursor=self._clock.now().replace(microsecond=0).isoformat())
        since = _cursor_time(cursor)
        found = await self._connections.read(lambda s: self._read(s, since))
        newest = max([since, *(lockout.at for lockout in found)])
        return LockoutPage(lockouts=tuple(found), cursor=newest.isoformat())

    def _read(self, s: Session, since: datetime) -> list[Lockout]:
        lay, username = self._layout, self._layout.attributes.username
        if self._ad:
            clause = f"(lockoutTime>={max(1, ad_ops.datetime_to_filetime(since))})"
            attributes = [username, "lockoutTime"]
        else:
            clause, attributes = "(pwdAccountLockedTime=*)", [username, "pwdAccountLockedTime",
                                                              "modifyTimestamp"]  # fmt: skip
        entries = s.search(lay.user_base, lay.people_where(clause), attributes, paged=True)
        found = [self._lockout(entry) for entry in entries if entry.first(username)]
        return sorted((f for f in found if f is not None and f.at >= since), key=lambda f: f.at)

    def _lockout(self, entry: Entry) -> Lockout | None:
        user = entry.first(self._layout.attributes.username) or ""
        if self._ad:
            stamp = entry.first("lockoutTime") or "0"
            at = ad_ops.filetime_to_datetime(int(stamp)) if stamp.isdigit() else None
            reason = FAILED_SIGN_INS
        else:
            stamp = entry.first("pwdAccountLockedTime") or ""
            admin = stamp == ADMIN_LOCK
            at = generalized_time(entry.first("modifyTimestamp") if admin else stamp)
            stamp = f"{ADMIN_LOCK}:{entry.first('modifyTimestamp')}" if admin else stamp
            reason = BY_ADMINISTRATOR if admin else FAILED_SIGN_INS
        if at is None:
            return None
        return Lockout(id=f"{user}@{stamp}", username=user, at=at, source=self.source,
                       reason=reason)  # fmt: skip


def generalized_time(value: str | None) -> datetime | None:
    """An LDAP generalized time ("20260302091200Z", with or without a fraction or an
    offset) as an aware datetime; None when it is not one."""
    text = (value or "").strip()
    if not text:
        return None
    text = text[:-1] + "+0000" if text.endswith("Z") else text
    for pattern in ("%Y%m%d%H%M%S.%f%z", "%Y%m%d%H%M%S%z", "%Y%m%d%H%M%z"):
        try:
            return datetime.strptime(text, pattern).astimezone(UTC)
        except ValueError:
            continue
    return None


def _cursor_time(cursor: str) -> datetime:
    try:
        at = datetime.fromisoformat(cursor)
    except ValueError:
        raise ValueError(f"not an LDAP lockout cursor: {cursor[:40]!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
