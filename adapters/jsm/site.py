"""What the desk learns once about the Jira site and keeps: its own account, the service
desk's project, the statuses and their categories, and people's Atlassian accounts (found by
e-mail) and e-mails (by account id), read as the directory's usernames."""

from __future__ import annotations

from typing import Any

from adapters.jsm.client import JsmClient
from adapters.jsm.records import desk_status
from bot.ports import Directory, NotFoundError, TicketStatus


class JsmSite:
    """The service desk `service_desk_id` on the site `client` reaches, with `directory`
    for telling the desk's usernames from Atlassian accounts."""

    def __init__(self, client: JsmClient, service_desk_id: str, directory: Directory) -> None:
        self.client = client
        self.service_desk_id = service_desk_id
        self.directory = directory
        self._myself: dict[str, Any] | None = None
        self._project: str | None = None
        self._statuses: dict[str, tuple[str, str]] = {}
        self._accounts: dict[str, str] = {}  # e-mail -> account id
        self._emails: dict[str, str | None] = {}  # account id -> e-mail

    async def desk_account(self) -> str:
        """The account id the desk calls as (its own comments and changes are recognised by
        it)."""
        if self._myself is None:
            self._myself = dict(await self.client.get("/rest/api/3/myself"))
        return str(self._myself["accountId"])

    async def time_zone(self) -> str:
        """The desk account's time zone, in which JQL reads the times it is given."""
        await self.desk_account()
        assert self._myself is not None
        return str(self._myself.get("timeZone") or "UTC")

    async def project(self) -> str:
        """The key of the service desk's Jira project, for JQL."""
        if self._project is None:
            desk = await self.client.get(f"/rest/servicedeskapi/servicedesk/{self.service_desk_id}")
            self._project = str(desk["projectKey"])
        return self._project

    async def status(self, status_id: str, name: str) -> TicketStatus:
        """The desk's status of a Jira status id (its category read once from the site)."""
        if status_id not in self._statuses:
            for status in await self.client.get("/rest/api/3/status") or []:
                category = (status.get("statusCategory") or {}).get("key", "new")
                self._statuses[str(status["id"])] = (str(status["name"]), str(category))
        known_name, category = self._statuses.get(status_id, (name, "new"))
        return desk_status(known_name, category)

    async def account_of(self, username: str) -> str:
        """The Atlassian account id of a desk username, by the e-mail the directory has."""
        person = await self.directory.person(username)
        if person is None or not person.email:
            raise NotFoundError("person", username)
        email = person.email.lower()
        if email not in self._accounts:
            found = await self.client.get("/rest/api/3/user/search", {"query": email})
            matches = [u for u in found or []
                       if str(u.get("emailAddress", "")).lower() == email]  # fmt: skip
            if not matches:
                raise NotFoundError("atlassian account", username)
            self._accounts[email] = str(matches[0]["accountId"])
        return self._accounts[email]

    async def username_of(self, user: Any) -> str | None:
        """The desk username of a Jira user object (or account id): the directory's person
        with its e-mail, else the e-mail, else the account id."""
        if user is None:
            return None
        account = str(user.get("accountId", "")) if isinstance(user, dict) else str(user)
        email = user.get("emailAddress") if isinstance(user, dict) else None
        if not email and account:
            email = await self.email_of(account)
        if not email:
            return account or None
        person = await self.directory.person_by_email(str(email))
        return person.username if person is not None else str(email)

    async def email_of(self, account: str) -> str | None:
        if account not in self._emails:
            try:
                user = await self.client.get("/rest/api/3/user", {"accountId": account})
            except NotFoundError:
                user = {}
            self._emails[account] = (user or {}).get("emailAddress") or None
        return self._emails[account]
