"""The desk's people and groups read from directory entries: where they are in the tree, which
entries count, and how an entry becomes a `Person` (groups from `memberOf` or a search on
`member`, the manager's DN as a username, roles and privilege from the roles file, factors
from the addresses on record) or a requestable `Group` (the entry with its catalogue entry).
Everything here runs in a worker thread on one `Session`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from adapters.directory.ldap_schema import FLAVOURS, AttributeMap, Flavour
from adapters.directory.ldap_session import Entry, Session
from bot.directory_files import CatalogueOverlay, RoleMap
from bot.models import FactorKind, Group, Person
from bot.ports import ContactPoints, NotFoundError
from bot.settings_identity import IdentitySettings

log = structlog.get_logger("itdesk.ldap")


def equals(attribute: str, value: str) -> str:
    return f"({attribute}={escape_filter_chars(value)})"


def any_of(clauses: Iterable[str]) -> str:
    listed = list(clauses)
    return listed[0] if len(listed) == 1 else f"(|{''.join(listed)})"


def dn_key(dn: str) -> str:
    """A DN as the directory compares it: names and values case-folded, spacing dropped."""
    try:
        return ",".join(f"{a.lower()}={v.lower()}" for a, v, _ in parse_dn(dn, strip=True))
    except LDAPInvalidDnError:
        return dn.strip().lower()


def rdn_value(dn: str, attribute: str) -> str | None:
    """The value of the DN's first component when it is `attribute` (and needs no
    unescaping): a username or group id read off the DN without asking the directory."""
    try:
        parts = parse_dn(dn, strip=True)
    except LDAPInvalidDnError:
        return None
    name, value, separator = parts[0]
    if name.lower() != attribute.lower() or separator == "+" or "\\" in value:
        return None
    return str(value)


def _parenthesised(where: str) -> str:
    """A filter as written in a setting, "objectClass=person" or "(objectClass=person)"."""
    where = where.strip()
    return where if where.startswith("(") else f"({where})"


def unambiguous(entries: list[Entry], username: str) -> list[Entry]:
    """The entries whose username no other entry has (the others are skipped, and logged)."""
    seen: dict[str, list[Entry]] = {}
    for entry in entries:
        seen.setdefault((entry.first(username) or "").lower(), []).append(entry)
    for key, same in seen.items():
        if len(same) > 1:
            log.warning("ldap.person_ambiguous", key=key, entries=len(same))
    return [same[0] for same in seen.values() if len(same) == 1]


@dataclass(frozen=True)
class Layout:
    """Where people and groups are, which entries they are, and what the desk makes of
    them (the roles file and the requestable groups' catalogue)."""

    flavour: Flavour
    user_base: str
    group_base: str
    user_filter: str
    group_filter: str
    attributes: AttributeMap
    roles: RoleMap
    catalogue: CatalogueOverlay

    @classmethod
    def of(
        cls, s: IdentitySettings, base: str, roles: RoleMap, catalogue: CatalogueOverlay
    ) -> Layout:
        """The layout the ITDESK_LDAP_* settings describe, the flavour's defaults filling
        what they leave unset."""
        flavour = FLAVOURS.get(s.ldap_kind or "")
        if flavour is None:
            raise ValueError(f"no LDAP flavour for ITDESK_DIRECTORY={s.directory}")
        return cls(
            flavour=flavour,
            user_base=s.ldap_user_base or base,
            group_base=s.ldap_group_base or base,
            user_filter=_parenthesised(s.ldap_user_filter or flavour.user_filter),
            group_filter=_parenthesised(s.ldap_group_filter or flavour.group_filter),
            attributes=flavour.attributes.overridden(s.ldap_attributes),
            roles=roles,
            catalogue=catalogue,
        )

    def people_where(self, clause: str) -> str:
        return f"(&{self.user_filter}{clause})"

    def groups_where(self, clause: str) -> str:
        return f"(&{self.group_filter}{clause})"

    @property
    def person_attributes(self) -> list[str]:
        f = self.flavour
        extra = [f.member_of] if f.member_of else []
        return [*self.attributes.requested(), *extra, *f.state_attributes]

    @property
    def group_attributes(self) -> list[str]:
        return [self.flavour.group_id, "description", "owner"]


@dataclass
class Known:
    """What a full read already holds, so that building each person asks nothing more:
    usernames by DN, group ids by DN, and each member's groups (for entries without
    `memberOf`)."""

    usernames: dict[str, str]
    group_ids: dict[str, str]
    groups_of: dict[str, list[str]]


class Records:
    """Reads people and groups for the port, on the session it is handed."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # --- people ---------------------------------------------------------------------------

    def people_entries(self, s: Session, clause: str, *, paged: bool = False) -> list[Entry]:
        """The person entries matching `clause`, those without a username skipped."""
        a, lay = self.layout.attributes, self.layout
        found = s.search(lay.user_base, lay.people_where(clause), lay.person_attributes,
                         paged=paged)  # fmt: skip
        usable = [e for e in found if e.first(a.username)]
        for entry in found:
            if not entry.first(a.username):
                log.warning("ldap.entry_skipped", dn=entry.dn, reason=f"no {a.username}")
        return usable

    def person_entry(self, s: Session, clause: str, key: str) -> Entry | None:
        """The one entry `clause` matches; none when several do (which is logged)."""
        found = self.people_entries(s, clause)
        if len(found) > 1:
            log.warning("ldap.person_ambiguous", key=key, entries=len(found))
            return None
        return found[0] if found else None

    def by_username(self, s: Session, username: str) -> Entry | None:
        return self.person_entry(s, equals(self.layout.attributes.username, username), username)

    def require(self, s: Session, username: str) -> Entry:
        entry = self.by_username(s, username)
        if entry is None:
            raise NotFoundError("person", username)
        return entry

    def person(self, s: Session, entry: Entry, known: Known | None = None) -> Person:
        a, lay = self.layout.attributes, self.layout
        username = entry.first(a.username) or ""
        groups = self.groups_of(s, entry, known)
        contact = self.contact_points(entry)
        emailed = bool(contact.email or contact.secondary_email)
        factors: tuple[FactorKind, ...] = ("email",) if emailed else ()
        state = lay.flavour.account_state(entry)
        manager = entry.first(a.manager)
        return Person(
            username=username,
            name=entry.first(*a.display_name) or username,
            email=contact.email,
            manager=self.username_at(s, manager, known) if manager else None,
            department=entry.first(*a.department) or "",
            title=entry.first(a.title) or "",
            factors=(*factors, "sms") if contact.mobile else factors,
            locked=state.locked,
            disabled=state.disabled,
            privileged=lay.roles.privileged_by(groups) or lay.flavour.privileged(s, entry),
            roles=lay.roles.roles_of(groups),
            groups=groups,
        )

    def contact_points(self, entry: Entry) -> ContactPoints:
        a = self.layout.attributes
        return ContactPoints(
            email=entry.first(a.email) or "",
            secondary_email=entry.first(a.secondary_email),
            mobile=entry.first(a.mobile),
        )

    def username_at(self, s: Session, dn: str, known: Known | None = None) -> str | None:
        """The username of the person at `dn` (a manager)."""
        a = self.layout.attributes
        if known is not None and dn_key(dn) in known.usernames:
            return known.usernames[dn_key(dn)]
        named = rdn_value(dn, a.username)
        if named is not None:
            return named
        entry = s.read(dn, [a.username])
        return entry.first(a.username) if entry else None

    # --- groups ---------------------------------------------------------------------------

    def groups_of(self, s: Session, entry: Entry, known: Known | None) -> tuple[str, ...]:
        """The ids of the person's groups under the group base: `memberOf` in the order
        the directory keeps it, or else the groups listing the person as a member."""
        lay = self.layout
        member_of = entry.values(lay.flavour.member_of)
        if not member_of:
            if known is not None:
                return tuple(known.groups_of.get(dn_key(entry.dn), []))
            where = lay.groups_where(equals(lay.flavour.member, entry.dn))
            listed = s.search(lay.group_base, where, [lay.flavour.group_id])
            return tuple(g for e in listed if (g := e.first(lay.flavour.group_id)))
        base = dn_key(lay.group_base)
        ids = [self._group_id(s, dn, known) for dn in member_of
               if dn_key(dn) == base or dn_key(dn).endswith("," + base)]  # fmt: skip
        return tuple(dict.fromkeys(i for i in ids if i))

    def _group_id(self, s: Session, dn: str, known: Known | None) -> str | None:
        group_id = self.layout.flavour.group_id
        if known is not None and dn_key(dn) in known.group_ids:
            return known.group_ids[dn_key(dn)]
        named = rdn_value(dn, group_id)
        if named is not None:
            return named
        entry = s.read(dn, [group_id])
        return entry.first(group_id) if entry else None

    def group_entries(self, s: Session, ids: Iterable[str], attributes: list[str]) -> list[Entry]:
        lay = self.layout
        wanted = [equals(lay.flavour.group_id, i) for i in ids]
        if not wanted:
            return []
        return s.search(lay.group_base, lay.groups_where(any_of(wanted)), attributes, paged=True)

    def group_entry(self, s: Session, group_id: str, attributes: list[str]) -> Entry | None:
        found = self.group_entries(s, [group_id], attributes)
        if len(found) > 1:
            log.warning("ldap.group_ambiguous", group=group_id, entries=len(found))
            return None
        return found[0] if found else None

    def group(self, s: Session, entry: Entry) -> Group | None:
        """The requestable group the entry is (None when the catalogue does not name it)."""
        group_id = entry.first(self.layout.flavour.group_id) or ""
        overlay = self.layout.catalogue.group(group_id)
        if overlay is None:
            return None
        owner_dn = entry.first("owner")
        owner = overlay.owner or (self.username_at(s, owner_dn) if owner_dn else None)
        return Group(id=group_id, **overlay.model_dump(exclude={"owner"}), owner=owner)

    def known(self, s: Session, people: list[Entry]) -> Known:
        """What building every person at once needs: one more search, for the groups'
        members, and only when some entry has no `memberOf`."""
        lay, f = self.layout, self.layout.flavour
        usernames = {dn_key(e.dn): e.first(lay.attributes.username) or "" for e in people}
        known = Known(usernames=usernames, group_ids={}, groups_of={})
        if all(e.values(f.member_of) for e in people):
            return known
        for group in s.search(lay.group_base, lay.group_filter, [f.group_id, f.member],
                              paged=True):  # fmt: skip
            group_id = group.first(f.group_id)
            if group_id:
                known.group_ids[dn_key(group.dn)] = group_id
                for member in group.values(f.member):
                    known.groups_of.setdefault(dn_key(member), []).append(group_id)
        return known
