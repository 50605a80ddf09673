"""Jira Service Management as the desk's `Tickets`: a ticket is a customer request of the
service desk (its id the issue key, ITS-12), raised on behalf of the requester's Atlassian
account, of the request type mapped from the desk's queue (`ITDESK_JSM_REQUEST_TYPES`; the
`other` entry for a queue not mapped).

The desk's key and case id and the queue are kept in the issue's entity property `itdesk`
(`{"key", "case_id", "queue"}`), found again by JQL (`issue.property[itdesk].key`) before a
keyed open creates anything; a keyed create whose answer is lost looks for the request it
made (the desk's, for the requester, with its summary, unmarked, a minute old at most) and
marks that one. A status is set through a workflow transition (records.py says
which), the assignee by account, a note as an internal comment and a comment as a public
one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from adapters.jsm.client import JsmClient, JsmError, Sleep
from adapters.jsm.history import history
from adapters.jsm.lost import made_by_lost_create
from adapters.jsm.records import PRIORITY_NAMES, PROPERTY, desk_priority, desk_status, jira_time
from adapters.jsm.site import JsmSite
from bot.clock import Clock, SystemClock
from bot.models import Priority, Queue
from bot.ports import (
    ConflictError,
    Directory,
    NewTicket,
    NotFoundError,
    OutcomeUnknown,
    Ticket,
    TicketNote,
    TicketStatus,
)
from bot.settings_tickets import TicketSettings

ISSUE_FIELDS = "assignee,priority,updated,status"


class JsmTickets:
    """The `Tickets` port over one JSM service desk."""

    def __init__(self, site: JsmSite, request_types: dict[str, str], clock: Clock) -> None:
        self.site = site
        self._types = request_types
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: TicketSettings,
        *,
        directory: Directory,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> JsmTickets:
        assert settings.jsm_url
        assert settings.jsm_email
        assert settings.jsm_api_token
        assert settings.jsm_service_desk_id, "ticket_problems reports a missing setting"
        client = JsmClient(settings.jsm_url, settings.jsm_email, settings.jsm_api_token,
                           sleep=sleep, session=session)  # fmt: skip
        site = JsmSite(client, settings.jsm_service_desk_id, directory)
        return cls(site, dict(settings.jsm_request_types), clock or SystemClock())

    @property
    def client(self) -> JsmClient:
        return self.site.client

    async def open(self, ticket: NewTicket) -> Ticket:
        if ticket.key is not None:
            first = await self._opened_under(ticket.key)
            if first is not None:
                asked = NewTicket.model_validate(
                    first.model_dump(include=set(NewTicket.model_fields))
                )
                if asked != ticket:
                    raise ConflictError(f"key {ticket.key!r} already opened {first.id}")
                return first
        type_id = self._types.get(ticket.queue) or self._types.get("other")
        if type_id is None:
            raise JsmError(0, f"no request type for queue {ticket.queue!r} nor for 'other'")
        values: dict[str, Any] = {
            "summary": ticket.summary,
            "description": ticket.details,
            "priority": {"name": PRIORITY_NAMES[ticket.priority]},
        }
        body = {"serviceDeskId": self.site.service_desk_id, "requestTypeId": type_id,
                "requestFieldValues": values,
                "raiseOnBehalfOf": await self.site.account_of(ticket.requester)}  # fmt: skip
        sent = self._clock.now()
        try:
            created = await self.client.post("/rest/servicedeskapi/request", body)
        except OutcomeUnknown:
            if (
                ticket.key is None
                or (found := await made_by_lost_create(self.site, body, sent)) is None
            ):
                raise
            created = {"issueKey": found}  # it was made: mark it as the key's below
        key = str(created["issueKey"])
        mark = {"key": ticket.key, "case_id": ticket.case_id, "queue": ticket.queue}
        await self.client.put(f"/rest/api/3/issue/{key}/properties/{PROPERTY}", mark)
        return await self._read(key)

    async def _opened_under(self, key: str) -> Ticket | None:
        jql = (
            f"project = {await self.site.project()} AND "
            f"issue.property[{PROPERTY}].key = {json.dumps(key)} ORDER BY created ASC"
        )
        async for issue in self.client.search(jql, "created"):
            return await self._read(str(issue["key"]))
        return None

    async def get(self, ticket_id: str) -> Ticket | None:
        try:
            return await self._read(ticket_id)
        except NotFoundError:
            return None

    async def _read(self, key: str) -> Ticket:
        request = await self.client.get(f"/rest/servicedeskapi/request/{key}")
        if str(request.get("serviceDeskId")) != self.site.service_desk_id:
            raise NotFoundError("ticket", key)
        issue = await self.client.get(f"/rest/api/3/issue/{key}",
                                      {"fields": ISSUE_FIELDS, "properties": PROPERTY})  # fmt: skip
        fields = issue.get("fields") or {}
        mark = (issue.get("properties") or {}).get(PROPERTY) or {}
        values = {v["fieldId"]: v.get("value") for v in request.get("requestFieldValues") or []}
        status = request.get("currentStatus") or {}
        requester = await self.site.username_of(request.get("reporter"))
        return Ticket(
            id=str(request["issueKey"]), key=mark.get("key"), case_id=mark.get("case_id"),
            requester=requester or "", queue=self._queue(mark, str(request["requestTypeId"])),
            priority=desk_priority((fields.get("priority") or {}).get("name")),
            status=desk_status(str(status.get("status", "")),
                               str(status.get("statusCategory", "NEW"))),
            assignee=await self.site.username_of(fields.get("assignee")),
            summary=str(values.get("summary") or ""), details=str(values.get("description") or ""),
            created_at=jira_time(request["createdDate"]), updated_at=jira_time(fields["updated"]),
        )  # fmt: skip

    def _queue(self, mark: dict[str, Any], type_id: str) -> Queue:
        if mark.get("queue"):
            return mark["queue"]  # type: ignore[no-any-return]
        queues = [queue for queue, mapped in self._types.items() if mapped == type_id]
        return queues[0] if queues else "other"  # type: ignore[return-value]

    async def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        assignee: str | None = None,
        priority: Priority | None = None,
        note: str | None = None,
        comment: str | None = None,
    ) -> Ticket:
        current = await self.get(ticket_id)
        if current is None:
            raise NotFoundError("ticket", ticket_id)
        key = current.id
        if status is not None and status != current.status:
            await self._transition(key, status)
        if assignee is not None and assignee != current.assignee:
            account = await self.site.account_of(assignee)
            await self.client.put(f"/rest/api/3/issue/{key}/assignee", {"accountId": account})
        if priority is not None and priority != current.priority:
            body = {"fields": {"priority": {"name": PRIORITY_NAMES[priority]}}}
            await self.client.put(f"/rest/api/3/issue/{key}", body)
        for text, public in ((note, False), (comment, True)):
            if text:
                await self.client.post(f"/rest/servicedeskapi/request/{key}/comment",
                                       {"body": text, "public": public})  # fmt: skip
        return await self._read(key)

    async def _transition(self, key: str, status: TicketStatus) -> None:
        found = await self.client.get(f"/rest/api/3/issue/{key}/transitions")
        for transition in found.get("transitions") or []:
            to = transition.get("to") or {}
            category = (to.get("statusCategory") or {}).get("key", "new")
            if desk_status(str(to.get("name", "")), str(category)) == status:
                body = {"transition": {"id": str(transition["id"])}}
                await self.client.post(f"/rest/api/3/issue/{key}/transitions", body)
                return
        raise JsmError(409, f"no transition of {key} leads to a {status} status")

    async def of_requester(self, username: str) -> list[Ticket]:
        try:
            account = await self.site.account_of(username)
        except NotFoundError:
            return []
        jql = (f'project = {await self.site.project()} AND (reporter = "{account}" OR '
               f'"Request participants" = "{account}") ORDER BY created ASC')  # fmt: skip
        return [await self._read(str(issue["key"]))
                async for issue in self.client.search(jql, "created")]  # fmt: skip

    async def in_queue(self, queue: Queue) -> list[Ticket]:
        type_id = self._types.get(queue) or self._types.get("other")
        if type_id is None:
            return []
        found = await self.client.desk_pages("/rest/servicedeskapi/request", {
            "serviceDeskId": self.site.service_desk_id, "requestTypeId": type_id,
            "requestOwnership": "ALL_REQUESTS", "requestStatus": "ALL_REQUESTS",
        })  # fmt: skip
        found.sort(key=lambda r: jira_time(r["createdDate"]))
        tickets = [await self._read(str(r["issueKey"])) for r in found]
        return [t for t in tickets if t.queue == queue]

    async def notes(self, ticket_id: str) -> list[TicketNote]:
        """The ticket's comments and field changes, oldest first; the desk's own have no
        author (history.py says how one update's changes and note read as one entry)."""
        if await self.get(ticket_id) is None:
            raise NotFoundError("ticket", ticket_id)
        comments = await self.client.desk_pages(f"/rest/servicedeskapi/request/{ticket_id}/comment")
        changes = await self.client.platform_pages(f"/rest/api/3/issue/{ticket_id}/changelog",
                                                   "values")  # fmt: skip
        return await history(self.site, comments, changes)
