"""A request's history as the desk's notes: its comments (public or internal) and the
changes of status, assignee and priority in its changelog, oldest first.

Jira records one update of the desk's as several entries (a transition, an assignment, a
comment, each with its own time). They read as one note, as the desk wrote them: the desk's
field changes less than `SAME_UPDATE` apart, and the internal comment that follows them,
join one note until it has its text. Public comments are always notes of their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.jsm.records import desk_priority, is_public, jira_time, person_of, plain_text
from adapters.jsm.site import JsmSite
from bot.ports import TicketNote

SAME_UPDATE = timedelta(seconds=5)
FIELDS = ("status", "assignee", "priority")


async def history(site: JsmSite, comments: list[Any], changelog: list[Any]) -> list[TicketNote]:
    desk = await site.desk_account()
    entries: list[tuple[datetime, int, TicketNote]] = []
    for record in changelog:
        changes = await field_changes(site, record.get("items") or [])
        if changes:
            note = TicketNote(at=jira_time(record["created"]), changes=changes,
                              author=_author(record.get("author"), desk))  # fmt: skip
            entries.append((note.at, 0, note))
    for comment in comments:
        public = is_public(comment)
        note = TicketNote(at=jira_time(comment["created"]), text=plain_text(comment.get("body")),
                          public=public, author=_author(comment.get("author"), desk))  # fmt: skip
        entries.append((note.at, 2 if public else 1, note))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    notes: list[TicketNote] = []
    for _, _, note in entries:
        last = notes[-1] if notes else None
        if last is not None and _joins(last, note):
            notes[-1] = last.model_copy(
                update={"text": note.text or last.text, "changes": {**last.changes, **note.changes}}
            )
        else:
            notes.append(note)
    return notes


def _joins(last: TicketNote, note: TicketNote) -> bool:
    same_writer = last.author is None and note.author is None
    return (same_writer and not last.public and not note.public and not last.text
            and bool(last.changes) and not set(note.changes) & set(last.changes)
            and note.at - last.at < SAME_UPDATE)  # fmt: skip


async def field_changes(site: JsmSite, items: list[Any]) -> dict[str, str]:
    """The desk's fields a changelog entry changed, as the desk names their new values."""
    changes: dict[str, str] = {}
    for item in items:
        field = str(item.get("fieldId") or item.get("field") or "").lower()
        if field == "status":
            changes["status"] = await site.status(str(item.get("to")), str(item.get("toString")))
        elif field == "assignee":
            changes["assignee"] = await site.username_of(item.get("to")) or ""
        elif field == "priority":
            changes["priority"] = desk_priority(item.get("toString"))
    return {field: changes[field] for field in FIELDS if field in changes}


def _author(user: Any, desk: str) -> str | None:
    if isinstance(user, dict) and user.get("accountId") == desk:
        return None
    return person_of(user)
