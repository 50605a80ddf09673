"""The sys_user and sys_user_group records the desk names: a desk username to the caller's or
assignee's sys_id (by `user_name`, else by the e-mail the directory has for them), a group
name to its sys_id, and back. Found once, kept for the life of the process."""

from __future__ import annotations

from adapters.servicenow.client import ServiceNowClient, escape
from bot.ports import Directory


class People:
    def __init__(self, client: ServiceNowClient, directory: Directory | None) -> None:
        self._client = client
        self._directory = directory
        self._users: dict[str, str] = {}  # desk username -> sys_id
        self._names: dict[str, str] = {}  # sys_id -> user_name
        self._groups: dict[str, str] = {}  # group name -> sys_id

    async def user(self, username: str) -> str | None:
        """The sys_id of the desk's `username`, or None when ServiceNow has nobody for them."""
        if username in self._users:
            return self._users[username]
        found = await self._one("sys_user", f"user_name={escape(username)}")
        if found is None and self._directory is not None:
            person = await self._directory.person(username)
            if person is not None and person.email:
                found = await self._one("sys_user", f"email={escape(person.email)}")
        if found is not None:
            self._users[username] = found
        return found

    async def user_name(self, sys_id: str) -> str:
        """The user_name of the sys_user `sys_id` ("" for none, or one not found)."""
        if not sys_id:
            return ""
        if sys_id not in self._names:
            rows = await self._client.records("sys_user", f"sys_id={escape(sys_id)}",
                                              "sys_id,user_name", limit=1)  # fmt: skip
            self._names[sys_id] = rows[0].get("user_name", "") if rows else ""
        return self._names[sys_id]

    async def group(self, name: str) -> str | None:
        if name not in self._groups:
            found = await self._one("sys_user_group", f"name={escape(name)}")
            if found is None:
                return None
            self._groups[name] = found
        return self._groups[name]

    async def _one(self, table: str, query: str) -> str | None:
        rows = await self._client.records(table, query, "sys_id", limit=1)
        return rows[0]["sys_id"] if rows and rows[0].get("sys_id") else None
