"""The desk's records as Cedar entities: only those one question needs (the principal, the
resource and the people they name), never a directory scan."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.models import Device, Group, Person, SoftwareItem

Resource = Person | Group | SoftwareItem | Device
Entity = dict[str, Any]


def uid(kind: str, key: str) -> dict[str, str]:
    return {"type": kind, "id": key}


def ref(kind: str, key: str) -> dict[str, dict[str, str]]:
    """An attribute naming another entity."""
    return {"__entity": uid(kind, key)}


def person(p: Person) -> Entity:
    attrs: dict[str, Any] = {
        "roles": list(p.roles),
        "privileged": p.privileged,
        "disabled": p.disabled,
        "locked": p.locked,
        "department": p.department,
    }
    if p.manager:
        attrs["manager"] = ref("Person", p.manager)
    return {"uid": uid("Person", p.username), "attrs": attrs, "parents": []}


def stand_in(username: str) -> Entity:
    """A person the question only names (a manager, an owner): no roles, nothing special."""
    attrs = {"roles": [], "privileged": False, "disabled": False, "locked": False,
             "department": ""}  # fmt: skip
    return {"uid": uid("Person", username), "attrs": attrs, "parents": []}


def people(known: Iterable[Person], named: Iterable[str] = ()) -> list[Entity]:
    """The people a question is about, and a stand-in for everyone they name (managers,
    owners) who is not among them, so that comparisons with them evaluate."""
    by_name = {p.username: p for p in known}
    referenced = {p.manager for p in by_name.values() if p.manager} | set(named)
    return [person(p) for p in by_name.values()] + [
        stand_in(name) for name in sorted(referenced - by_name.keys())
    ]


def resource(r: Resource, *, catalogued: bool = True) -> tuple[dict[str, str], Entity | None]:
    """A resource's uid, and its entity unless it is a person (people come from `people`)."""
    if isinstance(r, Person):
        return uid("Person", r.username), None
    if isinstance(r, Group):
        attrs: dict[str, Any] = {"approval": r.approval, "sensitive": r.sensitive}
        if r.owner:
            attrs["owner"] = ref("Person", r.owner)
        if r.max_days is not None:
            attrs["max_days"] = r.max_days
        return uid("Group", r.id), {"uid": uid("Group", r.id), "attrs": attrs, "parents": []}
    if isinstance(r, SoftwareItem):
        attrs = {"approval": r.approval, "catalogued": catalogued}
        return uid("Software", r.id), {"uid": uid("Software", r.id), "attrs": attrs,
                                      "parents": []}  # fmt: skip
    attrs = {"compliant": r.compliant}
    if r.owner:
        attrs["owner"] = ref("Person", r.owner)
    return uid("Device", r.id), {"uid": uid("Device", r.id), "attrs": attrs, "parents": []}


def owner_of(r: Resource) -> str | None:
    return r.owner if isinstance(r, Group | Device) else None
