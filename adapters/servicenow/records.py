"""How the desk's tickets are held as ServiceNow incidents, both ways.

- Queue -> `category` (out-of-box incident categories) and, where configured, an
  assignment group by name. Read back: the group's queue when the group maps to one, else the
  queue the desk recorded in `correlation_display`, else the category's, else "other".
- Priority -> `urgency`/`impact`, chosen so ServiceNow's default priority lookup
  (priority = urgency + impact - 1) gives: urgent 1/1 -> P1 Critical, high 1/2 -> P2 High,
  normal 2/2 -> P3 Moderate, low 3/3 -> P5 Planning. Read back from urgency + impact - 1:
  1 urgent, 2 high, 3 normal, 4 and 5 low (instances that change the lookup still read
  sensibly, as urgency and impact are read, not the computed priority).
- State: 1 New open, 2 In Progress and 3 On Hold in_progress, 6 Resolved resolved,
  7 Closed and 8 Canceled closed. Resolving sets `close_code` and `close_notes`, which the
  out-of-box data policy requires.
- The desk's own incidents: `correlation_id` = the opener's key (hashed when longer than the
  field's 100 characters) and `correlation_display` = "itdesk queue=<queue> case=<case id>".
- Times: ServiceNow's raw values, UTC 'YYYY-MM-DD HH:MM:SS' (the integration user's time
  zone must be UTC for encoded-query dates to mean UTC too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import get_args

from bot.models import Priority, Queue
from bot.ports import Ticket, TicketStatus

CATEGORY: dict[Queue, str] = {
    "access": "inquiry", "accounts": "inquiry", "software": "software",
    "hardware": "hardware", "network": "network", "security": "inquiry", "other": "inquiry",
}  # fmt: skip
URGENCY_IMPACT: dict[Priority, tuple[str, str]] = {
    "urgent": ("1", "1"), "high": ("1", "2"), "normal": ("2", "2"), "low": ("3", "3"),
}  # fmt: skip
STATE: dict[TicketStatus, str] = {"open": "1", "in_progress": "2", "resolved": "6", "closed": "7"}
STATUS_OF = {"1": "open", "2": "in_progress", "3": "in_progress", "6": "resolved",
             "7": "closed", "8": "closed"}  # fmt: skip
CLOSE_CODE = "Solution provided"
CLOSE_NOTES = "Resolved through the IT desk."
DESK = "itdesk"
TIME = "%Y-%m-%d %H:%M:%S"
CORRELATION_MAX = 100

# What the desk reads of an incident (dot-walks give the usernames and the group's name).
INCIDENT_FIELDS = ",".join((
    "sys_id", "number", "caller_id", "caller_id.user_name", "caller_id.email", "category",
    "assignment_group.name", "assigned_to.user_name", "urgency", "impact", "state",
    "short_description", "description", "correlation_id", "correlation_display",
    "sys_created_on", "sys_updated_on", "sys_created_by", "sys_mod_count",
))  # fmt: skip


def correlation_id(key: str) -> str:
    if len(key) <= CORRELATION_MAX:
        return key
    return "itdesk-sha256:" + hashlib.sha256(key.encode()).hexdigest()


def correlation_display(queue: Queue, case_id: str | None) -> str:
    return f"{DESK} queue={queue}" + (f" case={case_id}" if case_id else "")


def recorded(display: str) -> dict[str, str]:
    """What the desk recorded in `correlation_display` ({} for another system's incident)."""
    words = display.split()
    if not words or words[0] != DESK:
        return {}
    return dict(w.split("=", 1) for w in words[1:] if "=" in w)


def priority_of(urgency: str, impact: str) -> Priority:
    try:
        level = int(urgency) + int(impact) - 1
    except ValueError:
        return "normal"
    return "urgent" if level <= 1 else "high" if level == 2 else "normal" if level == 3 else "low"


def time_of(value: str) -> datetime:
    return datetime.strptime(value, TIME).replace(tzinfo=UTC)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIME)


def queue_of(record: Mapping[str, str], groups: Mapping[str, str]) -> Queue:
    """`groups`: the desk's queue -> assignment group name, as configured."""
    by_group = [q for q, name in groups.items() if name == record.get("assignment_group.name")]
    if len(by_group) == 1 and by_group[0] in get_args(Queue):
        return by_group[0]  # type: ignore[return-value]
    noted = recorded(record.get("correlation_display", "")).get("queue", "")
    if noted in get_args(Queue):
        return noted  # type: ignore[return-value]
    by_category = [q for q, c in CATEGORY.items() if c == record.get("category")]
    return by_category[0] if len(by_category) == 1 else "other"


def ticket_of(record: Mapping[str, str], groups: Mapping[str, str], key: str | None) -> Ticket:
    """The incident as the desk's ticket; `key` is the opener's key when the desk knows it
    (a hashed correlation id cannot be read back into it)."""
    noted = recorded(record.get("correlation_display", ""))
    correlation = record.get("correlation_id", "")
    if key is None and noted and correlation and not correlation.startswith("itdesk-sha256:"):
        key = correlation
    requester = record.get("caller_id.user_name") or record.get("caller_id.email") or ""
    return Ticket(
        id=record["number"],
        key=key,
        case_id=noted.get("case") or None,
        requester=requester,
        queue=queue_of(record, groups),
        priority=priority_of(record.get("urgency", ""), record.get("impact", "")),
        status=STATUS_OF.get(record.get("state", ""), "open"),
        assignee=record.get("assigned_to.user_name") or None,
        summary=record.get("short_description", ""),
        details=record.get("description", ""),
        created_at=time_of(record["sys_created_on"]),
        updated_at=time_of(record["sys_updated_on"]),
    )
