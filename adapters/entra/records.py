"""Graph's user and group objects as the desk's records.

A person's username is the account's on-premises `sAMAccountName`
(`onPremisesSamAccountName`) when Entra Connect syncs it from AD, so that a person has the
same username in an `ad,entra` desk, and otherwise the cloud account's `mailNickname` (the
UPN's local part at creation). Lookups by username filter on both. A group's id in the
catalogue is its `mailNickname`, which every Entra group has and which, unlike the display
name, admins do not rename in passing."""

from __future__ import annotations

from typing import Any

from bot.directory_files import CatalogueOverlay
from bot.models import Group

Json = dict[str, Any]

USER_FIELDS = ("id,userPrincipalName,mail,otherMails,mailNickname,displayName,department,"
               "jobTitle,accountEnabled,onPremisesSyncEnabled,onPremisesSamAccountName,"
               "mobilePhone")  # fmt: skip
GROUP_FIELDS = "id,displayName,mailNickname,onPremisesSyncEnabled"
GROUP_TYPE = "#microsoft.graph.group"


def quoted(value: str) -> str:
    """An OData string literal: quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def synced(user: Json) -> bool:
    return user.get("onPremisesSyncEnabled") is True


def username_of(user: Json) -> str:
    if synced(user) and user.get("onPremisesSamAccountName"):
        return str(user["onPremisesSamAccountName"])
    return str(user.get("mailNickname") or "")


def by_username(username: str) -> dict[str, str]:
    """The query that finds the person with `username` (an advanced query: eventual)."""
    name = quoted(username.strip())
    return {
        "$filter": f"mailNickname eq {name} or onPremisesSamAccountName eq {name}",
        "$select": USER_FIELDS,
        "$count": "true",
    }


def by_email(address: str) -> dict[str, str]:
    value = quoted(address.strip())
    return {
        "$filter": f"mail eq {value} or otherMails/any(m:m eq {value})",
        "$select": USER_FIELDS,
        "$count": "true",
    }


def the_one(users: list[Json], username: str) -> Json | None:
    """The one user whose username (as `username_of` makes it) is `username`; None for
    none or several (an ambiguous username is nobody the desk may act on)."""
    wanted = username.strip().lower()
    matching = [u for u in users if username_of(u).lower() == wanted]
    return matching[0] if len(matching) == 1 else None


def group_id_of(group: Json) -> str:
    return str(group.get("mailNickname") or group.get("displayName") or "")


def group_ids(objects: list[Json]) -> tuple[str, ...]:
    """The ids of the groups among a `memberOf` answer (directory roles and administrative
    units left out), in Graph's order."""
    return tuple(
        gid for o in objects if o.get("@odata.type", GROUP_TYPE) == GROUP_TYPE
        if (gid := group_id_of(o))
    )  # fmt: skip


def as_group(group: Json, catalogue: CatalogueOverlay, owner: str | None) -> Group | None:
    """The requestable group it is (None when the catalogue does not name it)."""
    group_id = group_id_of(group)
    overlay = catalogue.group(group_id)
    if overlay is None:
        return None
    return Group(id=group_id, **overlay.model_dump(exclude={"owner"}),
                 owner=overlay.owner or owner)  # fmt: skip
