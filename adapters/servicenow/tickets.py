"""ServiceNow incidents as the desk's `Tickets` (the mapping is in `records`). A ticket's id is
the incident's number (INC0010001); its sys_id is found by number when a call needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from adapters.servicenow import records as r
from adapters.servicenow.client import Record, ServiceNowClient, Sleep, escape
from adapters.servicenow.connect import client_from_settings
from adapters.servicenow.feed import ServiceNowFeed
from adapters.servicenow.history import history
from adapters.servicenow.people import People
from bot.clock import Clock, SystemClock
from bot.models import Priority, Queue
from bot.ports import (
    ConflictError,
    Directory,
    NewTicket,
    NotFoundError,
    Ticket,
    TicketNote,
    TicketStatus,
)
from bot.settings_tickets import TicketSettings

ORDER = "^ORDERBYsys_created_on^ORDERBYnumber"


class ServiceNowTickets:
    """The desk's tickets as incidents. `integration_user` is the user_name the desk writes
    as (its own entries read back with author None); `groups` maps the desk's queues to
    assignment group names."""

    def __init__(
        self,
        client: ServiceNowClient,
        *,
        integration_user: str | None,
        groups: Mapping[str, str],
        directory: Directory | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.integration_user = integration_user
        self.groups = dict(groups)
        self.clock = clock or SystemClock()
        self.people = People(client, directory)

    @classmethod
    def from_settings(
        cls,
        settings: TicketSettings,
        *,
        directory: Directory | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> ServiceNowTickets:
        client = client_from_settings(settings, sleep=sleep, session=session)
        return cls(client, integration_user=settings.servicenow_user, directory=directory,
                   groups=settings.servicenow_assignment_groups, clock=clock)  # fmt: skip

    def __repr__(self) -> str:
        return f"ServiceNowTickets({self.client!r})"

    def feed(self) -> ServiceNowFeed:
        """The changes made to these tickets in ServiceNow, by polling."""
        return ServiceNowFeed(self.client, self.people, integration_user=self.integration_user,
                              groups=self.groups, clock=self.clock)  # fmt: skip

    async def open(self, ticket: NewTicket) -> Ticket:
        caller = await self.people.user(ticket.requester)
        if caller is None:
            raise NotFoundError("servicenow user", ticket.requester)
        if ticket.key is not None:
            first = await self._under_key(ticket.key)
            if first is not None:
                return self._same_or_conflict(first, ticket, caller)
        urgency, impact = r.URGENCY_IMPACT[ticket.priority]
        fields = {"caller_id": caller, "short_description": ticket.summary,
                  "description": ticket.details, "category": r.CATEGORY[ticket.queue],
                  "urgency": urgency, "impact": impact}  # fmt: skip
        fields["correlation_display"] = r.correlation_display(ticket.queue, ticket.case_id)
        if ticket.key is not None:
            fields["correlation_id"] = r.correlation_id(ticket.key)
        group = self.groups.get(ticket.queue)
        group_id = await self.people.group(group) if group else None
        if group_id is not None:
            fields["assignment_group"] = group_id
        created = await self.client.create("incident", fields, "sys_id,number")
        return r.ticket_of(await self._incident(created["number"]), self.groups, ticket.key)

    async def _under_key(self, key: str) -> Record | None:
        query = (
            f"correlation_id={escape(r.correlation_id(key))}^correlation_displaySTARTSWITH{r.DESK}"
        )
        found = await self.client.records("incident", query + ORDER, r.INCIDENT_FIELDS, limit=1)
        return found[0] if found else None

    def _same_or_conflict(self, first: Record, ticket: NewTicket, caller: str) -> Ticket:
        noted = r.recorded(first.get("correlation_display", ""))
        same = (first.get("caller_id"), first.get("short_description"),
                first.get("description"), noted.get("queue"), noted.get("case")) == (
                caller, ticket.summary, ticket.details, ticket.queue, ticket.case_id)  # fmt: skip
        if not same:
            raise ConflictError(f"key {ticket.key!r} already opened {first['number']}")
        return r.ticket_of(first, self.groups, ticket.key)

    async def get(self, ticket_id: str) -> Ticket | None:
        found = await self._find(ticket_id)
        return None if found is None else r.ticket_of(found, self.groups, None)

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
        current = await self._incident(ticket_id)
        was = r.ticket_of(current, self.groups, None)
        fields: dict[str, str] = {}
        if status is not None and status != was.status:
            fields["state"] = r.STATE[status]
            if status in {"resolved", "closed"}:
                fields["close_code"] = r.CLOSE_CODE
                fields["close_notes"] = comment or note or r.CLOSE_NOTES
        if assignee is not None and assignee != was.assignee:
            user = await self.people.user(assignee)
            if user is None:
                raise NotFoundError("servicenow user", assignee)
            fields["assigned_to"] = user
        if priority is not None and priority != was.priority:
            fields["urgency"], fields["impact"] = r.URGENCY_IMPACT[priority]
        if note:
            fields["work_notes"] = note
        if comment:
            fields["comments"] = comment
        if not fields:
            return was
        await self.client.change("incident", current["sys_id"], fields, "sys_id")
        return r.ticket_of(await self._incident(ticket_id), self.groups, None)

    async def of_requester(self, username: str) -> list[Ticket]:
        caller = await self.people.user(username)
        if caller is None:
            return []
        return await self._listed(f"caller_id={escape(caller)}")

    async def in_queue(self, queue: Queue) -> list[Ticket]:
        group = self.groups.get(queue)
        where = (
            f"assignment_group.name={escape(group)}" if group else f"category={r.CATEGORY[queue]}"
        )
        return [t for t in await self._listed(where) if t.queue == queue]

    async def notes(self, ticket_id: str) -> list[TicketNote]:
        current = await self._incident(ticket_id)
        return await history(self.client, self.people, current, self.integration_user)

    async def _listed(self, query: str) -> list[Ticket]:
        found = await self.client.records("incident", query + ORDER, r.INCIDENT_FIELDS)
        return [r.ticket_of(record, self.groups, None) for record in found]

    async def _find(self, number: str) -> Record | None:
        found = await self.client.records("incident", f"number={escape(number)}",
                                          r.INCIDENT_FIELDS, limit=1)  # fmt: skip
        return found[0] if found else None

    async def _incident(self, number: str) -> Record:
        found = await self._find(number)
        if found is None:
            raise NotFoundError("ticket", number)
        return found
