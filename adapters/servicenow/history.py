"""An incident's history as the desk's notes, read from `sys_audit`: every update ServiceNow
audits is one checkpoint (`record_checkpoint`, the record's `sys_mod_count` after it), holding
the fields it changed and the work note and comment written with it. One checkpoint reads as
one note (its work note, or its comment, with the changed fields), plus a second for a
comment written beside a work note. Inserts are not audited (ServiceNow's default), so the
history starts after the ticket was opened."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby

from adapters.servicenow import records as r
from adapters.servicenow.client import Record, ServiceNowClient, escape
from adapters.servicenow.people import People
from bot.ports import TicketNote

AUDITED = "state,assigned_to,urgency,impact,work_notes,comments"
AUDIT_FIELDS = (
    "sys_id,documentkey,fieldname,oldvalue,newvalue,user,record_checkpoint,sys_created_on"
)


async def audit_rows(client: ServiceNowClient, query: str) -> list[Record]:
    return await client.records("sys_audit", f"tablename=incident^{query}", AUDIT_FIELDS)


async def history(
    client: ServiceNowClient, people: People, incident: Record, desk: str | None
) -> list[TicketNote]:
    rows = await audit_rows(client, f"documentkey={escape(incident['sys_id'])}"
                            f"^fieldnameIN{AUDITED}^ORDERBYsys_created_on")  # fmt: skip
    rows.sort(key=lambda row: _checkpoint(row))
    checkpoints = [list(g) for _, g in groupby(rows, key=_checkpoint)]
    # urgency and impact after each checkpoint, walking back from the incident as it is now
    after: list[dict[str, str]] = []
    now = {"urgency": incident.get("urgency", ""), "impact": incident.get("impact", "")}
    for rows_at in reversed(checkpoints):
        after.insert(0, dict(now))
        for row in rows_at:
            if row["fieldname"] in now:
                now[row["fieldname"]] = row.get("oldvalue", "")
    notes: list[TicketNote] = []
    for rows_at, values in zip(checkpoints, after, strict=True):
        notes.extend(await _notes_of(rows_at, values, people, desk))
    return notes


async def _notes_of(
    rows: list[Record], values: Mapping[str, str], people: People, desk: str | None
) -> list[TicketNote]:
    by_field = {row["fieldname"]: row for row in rows}
    changes: dict[str, str] = {}
    if "state" in by_field:
        changes["status"] = r.STATUS_OF.get(by_field["state"].get("newvalue", ""), "open")
    if "assigned_to" in by_field:
        changes["assignee"] = await people.user_name(by_field["assigned_to"].get("newvalue", ""))
    if "urgency" in by_field or "impact" in by_field:
        changes["priority"] = r.priority_of(values["urgency"], values["impact"])
    user = rows[0].get("user", "")
    author = None if user == desk else user or None
    at = r.time_of(rows[0]["sys_created_on"])
    written = [(by_field[f].get("newvalue", ""), f == "comments")
               for f in ("work_notes", "comments") if f in by_field]  # fmt: skip
    if not written:
        return [TicketNote(at=at, changes=changes, author=author)]
    first, *rest = written
    notes = [TicketNote(at=at, text=first[0], public=first[1], changes=changes, author=author)]
    notes.extend(
        TicketNote(at=at, text=text, public=public, author=author) for text, public in rest
    )
    return notes


def _checkpoint(row: Mapping[str, str]) -> int:
    try:
        return int(row.get("record_checkpoint", "0"))
    except ValueError:
        return 0
