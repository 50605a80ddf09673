"""ServiceNow records as the desk's `TicketChange`s, the same for the poll and the webhook:
a journal entry's id is its sys_id, a field change's "<incident sys_id>:<field>:<sys_mod_count>"
(`record_checkpoint` in sys_audit is the count after the update), an incident opened
"<incident sys_id>:opened". `by` is the author's user_name; the integration user's own writes
come back `by_desk`."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.servicenow import records as r
from bot.ports import TicketChange

FIELDS = {"state": "status", "assigned_to": "assignee"}


def journal_change(row: Mapping[str, str], number: str, desk: str | None) -> TicketChange:
    """A sys_journal_field row (element comments or work_notes) of incident `number`."""
    by = row.get("sys_created_by") or None
    return TicketChange(
        id=row["sys_id"],
        ticket_id=number,
        kind="comment" if row.get("element") == "comments" else "note",
        at=r.time_of(row["sys_created_on"]),
        by=by,
        by_desk=by is not None and by == desk,
        text=row.get("value", ""),
    )


def field_change(
    *,
    sys_id: str,
    number: str,
    field: str,
    count: str,
    value: str,
    at: str,
    by: str | None,
    desk: str | None,
) -> TicketChange:
    """`field` (state or assigned_to) set to `value` (a state, or the assignee's user_name)
    by update number `count`."""
    kind = FIELDS[field]
    return TicketChange(
        id=f"{sys_id}:{field}:{count}",
        ticket_id=number,
        kind="status" if kind == "status" else "assignee",
        at=r.time_of(at),
        by=by or None,
        by_desk=bool(by) and by == desk,
        status=r.STATUS_OF.get(value, "open") if kind == "status" else None,
        assignee=(value or None) if kind == "assignee" else None,
    )


def opened_change(
    record: Mapping[str, str], groups: Mapping[str, str], desk: str | None
) -> TicketChange:
    """An incident as it was read (the fields of `records.INCIDENT_FIELDS`)."""
    by = record.get("sys_created_by") or None
    return TicketChange(
        id=f"{record['sys_id']}:opened",
        ticket_id=record["number"],
        kind="opened",
        at=r.time_of(record["sys_created_on"]),
        by=by,
        by_desk=by is not None and by == desk,
        ticket=r.ticket_of(record, groups, None),
    )
