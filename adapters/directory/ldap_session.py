"""One bound connection to an LDAP directory, used by one call in a worker thread: searches
(paged where asked), reads, one-attribute changes and the password modify operation, with
the directory's answers turned into entries or the desk's errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ldap3 import BASE, SUBTREE, Connection
from ldap3.extend.standard.modifyPassword import ModifyPassword
from ldap3.utils import log as ldap3_log

from bot.ports import NotFoundError

Changes = dict[str, list[tuple[str, list[str]]]]  # ldap3's: attribute -> [(operation, values)]

PAGE_SIZE = 500
PAGED_RESULTS = "1.2.840.113556.1.4.319"
BUSY = frozenset({51, 52})  # busy, unavailable: the server did nothing, ask again later
NO_CHANGE = frozenset({16, 20})  # a value already gone, already there (one attribute a change)


class DirectoryUnavailable(ConnectionError):
    """The directory could not be reached or stopped answering: an operator's problem. After
    a write it means the change was never sent."""


class DirectoryRefused(RuntimeError):
    """The directory answered and refused: an access rule, the schema, a search base that
    does not exist, the service account's own password."""

    def __init__(self, what: str, result: Mapping[str, Any]) -> None:
        self.code = int(result.get("result", -1))
        self.description = str(result.get("description", ""))
        message = str(result.get("message") or "").strip()
        why = f": {message}" if message else ""
        super().__init__(f"the directory refused {what} ({self.description}){why}")


@dataclass(frozen=True)
class Entry:
    """One directory entry as a search returned it, attribute names case-folded."""

    dn: str
    attributes: Mapping[str, list[str]]

    def values(self, *names: str | None) -> list[str]:
        """The values of the first of `names` the entry has (a fallback chain)."""
        for name in names:
            found = self.attributes.get(name.lower(), []) if name else []
            if found:
                return list(found)
        return []

    def first(self, *names: str | None) -> str | None:
        found = self.values(*names)
        if not found:
            return None
        return found[0].strip() or None


class ConnectionLost(Exception):
    """The connection failed under a call, or the server was too busy to take it; `sent`
    says whether a change had gone out."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class Session:
    """One bound connection, for the length of one call in a worker thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.sent = False  # whether a change went out: after it, a lost answer is unknown

    def search(
        self, base: str, where: str, attributes: list[str], *, one: bool = False,
        paged: bool = False,
    ) -> list[Entry]:  # fmt: skip
        """The entries under `base` (just `base` itself when `one`) that match `where`."""
        entries: list[Entry] = []
        cookie: Any = None
        while True:
            _, result, response, _ = self._connection.search(
                base, where, search_scope=BASE if one else SUBTREE, attributes=attributes,
                paged_size=PAGE_SIZE if paged else None, paged_cookie=cookie,
            )  # fmt: skip
            code = result["result"]
            if code == 32 and one:  # no such entry
                return []
            if code in BUSY:
                raise ConnectionLost(f"the directory is {result['description']}", sent=False)
            if code != 0:
                raise DirectoryRefused(f"a search under {base}", result)
            entries += [_entry(item) for item in response or () if item["type"] == "searchResEntry"]
            controls = result.get("controls") or {}
            cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
            if not paged or not cookie:
                return entries

    def read(self, dn: str, attributes: list[str], where: str = "(objectClass=*)") -> Entry | None:
        found = self.search(dn, where, attributes, one=True)
        return found[0] if found else None

    def modify(self, dn: str, changes: Changes) -> bool:
        """Make a change to one attribute: True when it changed something, False when the
        entry already was as asked (the value there already, or gone already)."""
        self.sent = True
        _, result, _, _ = self._connection.modify(dn, changes)
        code = result["result"]
        if code == 0:
            return True
        if code in NO_CHANGE:
            return False
        if code == 32:
            raise NotFoundError("entry", dn)
        if code in BUSY:
            raise DirectoryUnavailable(f"the directory is {result['description']}")
        raise DirectoryRefused(f"a change to {dn}", result)

    def binary(self, dn: str, attribute: str) -> list[bytes]:
        """The raw values of one attribute of `dn` (say, SIDs), as a read of the entry
        itself returns them; none when there is no such entry."""
        _, result, response, _ = self._connection.search(dn, "(objectClass=*)", BASE,
                                                         attributes=[attribute])  # fmt: skip
        if result["result"] == 32:
            return []
        if result["result"] != 0:
            raise DirectoryRefused(f"a read of {dn}", result)
        for item in response or ():
            if item["type"] == "searchResEntry":
                raw = {k.lower(): v for k, v in (item.get("raw_attributes") or {}).items()}
                return [bytes(v) for v in raw.get(attribute.lower(), [])]
        return []

    @property
    def encrypted(self) -> bool:
        """Whether what goes over this connection is encrypted (LDAPS, or StartTLS)."""
        return bool(self._connection.server.ssl or self._connection.tls_started)

    def for_password(self) -> Connection:
        """The bound connection itself, for a password write this session has no operation
        for (Active Directory's `unicodePwd`); counted as a change sent. Refused while
        ldap3's own protocol log is on: it would print the new password."""
        _refuse_protocol_log()
        self.sent = True
        return self._connection

    def modify_password(self, dn: str, password: str, controls: list[Any]) -> dict[str, Any]:
        """The password modify extended operation (RFC 3062) on `dn`; its result as is.
        Refused while ldap3's own protocol log is on: it would print the new password."""
        _refuse_protocol_log()
        self.sent = True
        operation = ModifyPassword(self._connection, user=dn, new_password=password,
                                   controls=controls)  # fmt: skip
        operation.send()
        return dict(operation.result or {})


def _refuse_protocol_log() -> None:
    if ldap3_log.log_enabled(ldap3_log.PROTOCOL):
        raise RuntimeError(
            "ldap3's protocol log is on and would print the new password: turn it off "
            "(ldap3.utils.log.set_library_log_detail_level) to set passwords"
        )


def _entry(item: Mapping[str, Any]) -> Entry:
    attributes: dict[str, list[str]] = {}
    for name, values in (item.get("attributes") or {}).items():
        listed = values if isinstance(values, list) else [values]
        attributes[name.lower()] = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in listed
        ]
    return Entry(dn=str(item["dn"]), attributes=attributes)
