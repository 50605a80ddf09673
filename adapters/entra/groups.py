"""Entra groups for the desk: found by `mailNickname` (the catalogue's key), shown as the
catalogue describes them, and their members changed through `members/$ref`. A group synced
from the on-premises AD is changed there (`Unsupported("group_membership")`)."""

from __future__ import annotations

import contextlib

from adapters.entra.graph import Graph, GraphError, Json
from adapters.entra.records import GROUP_FIELDS, USER_FIELDS, as_group, quoted, synced, username_of
from bot.directory_files import CatalogueOverlay
from bot.models import Group
from bot.ports import NotFoundError, Unsupported


class EntraGroups:
    """The groups of one tenant, as the catalogue file describes the requestable ones."""

    def __init__(self, graph: Graph, catalogue: CatalogueOverlay) -> None:
        self._graph = graph
        self._catalogue = catalogue

    async def find(self, group_id: str) -> Json | None:
        """The group whose mailNickname is `group_id` (None for none, or several)."""
        query = {"$filter": f"mailNickname eq {quoted(group_id)}", "$select": GROUP_FIELDS}
        found = await self._graph.all("/groups", query)
        return found[0] if len(found) == 1 else None

    async def members(self, group: Json) -> list[Json]:
        return await self._graph.all(f"/groups/{group['id']}/members", {"$select": USER_FIELDS})

    async def group(self, group_id: str) -> Group | None:
        if self._catalogue.group(group_id) is None:
            return None  # not requestable: the desk does not offer it
        found = await self.find(group_id)
        if found is None:
            return None
        owners = await self._graph.all(f"/groups/{found['id']}/owners", {"$select": USER_FIELDS})
        owner = next((username_of(o) for o in owners if username_of(o)), None)
        return as_group(found, self._catalogue, owner)

    async def groups(self) -> list[Group]:
        found = [await self.group(group_id) for group_id in self._catalogue.groups]
        return sorted((g for g in found if g is not None), key=lambda g: g.id)

    async def add(self, user: Json, group_id: str) -> None:
        group = await self._changeable(group_id)
        ref = {"@odata.id": f"{self._graph.root}/directoryObjects/{user['id']}"}
        try:
            await self._graph.call("POST", f"/groups/{group['id']}/members/$ref", json=ref)
        except GraphError as exc:
            if not (exc.status == 400 and "already exist" in exc.message):
                raise  # a member already is one: as asked

    async def remove(self, user: Json, group_id: str) -> None:
        group = await self._changeable(group_id)
        path = f"/groups/{group['id']}/members/{user['id']}/$ref"
        with contextlib.suppress(NotFoundError):  # not a member: as asked
            await self._graph.call("DELETE", path)

    async def _changeable(self, group_id: str) -> Json:
        group = await self.find(group_id)
        if group is None:
            raise NotFoundError("group", group_id)
        if synced(group):
            raise Unsupported("group_membership", "the group is synced from the on-premises "
                              "Active Directory: its members are changed there")  # fmt: skip
        return group
