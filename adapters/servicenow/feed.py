"""ServiceNow's changes by polling, as the desk's `TicketFeed`: journal entries
(`sys_journal_field`, comments and work notes of incidents), audited state and assignee
changes (`sys_audit`) and incidents opened by anyone but the desk, each since the cursor.

The cursor is "<UTC time>|<ids seen at that second>": ServiceNow's times have whole seconds,
so each poll asks from that second on (`>=`) and drops what it already returned."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.servicenow import records as r
from adapters.servicenow.changes import field_change, journal_change, opened_change
from adapters.servicenow.client import ServiceNowClient, escape
from adapters.servicenow.history import audit_rows
from adapters.servicenow.people import People
from bot.clock import Clock
from bot.ports import TicketChange, TicketChangePage

JOURNAL_FIELDS = "sys_id,element,element_id,value,sys_created_on,sys_created_by"


class ServiceNowFeed:
    def __init__(
        self,
        client: ServiceNowClient,
        people: People,
        *,
        integration_user: str | None,
        groups: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self._client = client
        self._people = people
        self._desk = integration_user
        self._groups = dict(groups)
        self._clock = clock

    async def changes_since(self, cursor: str | None) -> TicketChangePage:
        if cursor is None:
            return TicketChangePage(cursor=r.stamp(self._clock.now()) + "|")
        since, _, seen_ids = cursor.partition("|")
        seen = set(filter(None, seen_ids.split(",")))
        after = f"sys_created_on>={escape(since)}^ORDERBYsys_created_on"
        found = [*await self._journal(after), *await self._fields(after),
                 *await self._opened(after)]  # fmt: skip
        # within a second, in the order ServiceNow listed them: journal, fields, incidents
        fresh = sorted((c for c in found if c.id not in seen), key=lambda c: c.at)
        if not fresh:
            return TicketChangePage(cursor=cursor)
        last = r.stamp(fresh[-1].at)
        kept = {c.id for c in fresh if r.stamp(c.at) == last} | (seen if last == since else set())
        return TicketChangePage(changes=tuple(fresh), cursor=f"{last}|{','.join(sorted(kept))}")

    async def _journal(self, after: str) -> list[TicketChange]:
        query = f"name=incident^elementINcomments,work_notes^{after}"
        rows = await self._client.records("sys_journal_field", query, JOURNAL_FIELDS)
        numbers = await self._numbers({row.get("element_id", "") for row in rows})
        return [journal_change(row, numbers[row["element_id"]], self._desk)
                for row in rows if row.get("element_id") in numbers]  # fmt: skip

    async def _fields(self, after: str) -> list[TicketChange]:
        rows = await audit_rows(self._client, f"fieldnameINstate,assigned_to^{after}")
        numbers = await self._numbers({row.get("documentkey", "") for row in rows})
        changes: list[TicketChange] = []
        for row in rows:
            if row.get("documentkey") not in numbers:
                continue
            value = row.get("newvalue", "")
            if row["fieldname"] == "assigned_to":
                value = await self._people.user_name(value)
            changes.append(field_change(
                sys_id=row["documentkey"], number=numbers[row["documentkey"]],
                field=row["fieldname"], count=row.get("record_checkpoint", ""), value=value,
                at=row["sys_created_on"], by=row.get("user"), desk=self._desk,
            ))  # fmt: skip
        return changes

    async def _opened(self, after: str) -> list[TicketChange]:
        by_others = f"sys_created_by!={escape(self._desk)}^" if self._desk else ""
        rows = await self._client.records("incident", by_others + after, r.INCIDENT_FIELDS)
        return [opened_change(row, self._groups, self._desk) for row in rows]

    async def _numbers(self, sys_ids: set[str]) -> dict[str, str]:
        """Incident sys_id -> number, for those that are incidents."""
        wanted = sorted(i for i in sys_ids if i)
        if not wanted:
            return {}
        rows = await self._client.records("incident", f"sys_idIN{','.join(wanted)}",
                                          "sys_id,number")  # fmt: skip
        return {row["sys_id"]: row["number"] for row in rows}
