"""JSM's changes as the desk's `TicketFeed`: a JQL search of the project's requests updated
since the cursor (`updated >= "yyyy-MM-dd HH:mm"`, oldest first), with their changelog and
comments.

JQL compares times to the minute, in the time zone of the desk's account: each poll reads
again from a minute (`OVERLAP`) before its cursor and leaves out what it already returned,
by the ids the cursor keeps for that overlap. The cursor is JSON: `start` (the first poll:
nothing older is returned), `since` (the newest change returned) and `seen`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.jsm.changes import (
    FOLLOWED,
    DeskAccount,
    comment_change,
    field_of,
    item_change,
    opened_change,
)
from adapters.jsm.records import jira_time
from adapters.jsm.tickets import JsmTickets
from bot.clock import Clock
from bot.ports import TicketChange, TicketChangePage

OVERLAP = timedelta(minutes=1)
FIELDS = "created,creator,reporter,comment"


class JsmFeed:
    """The `TicketFeed` of the service desk `tickets` works in."""

    def __init__(self, tickets: JsmTickets, clock: Clock) -> None:
        self._tickets = tickets
        self._site = tickets.site
        self._clock = clock

    async def changes_since(self, cursor: str | None) -> TicketChangePage:
        if cursor is None:
            now = self._clock.now().astimezone(UTC).isoformat()
            return TicketChangePage(cursor=_cursor(now, now, {}))
        state = json.loads(cursor)
        start, since = (
            datetime.fromisoformat(state["start"]),
            datetime.fromisoformat(state["since"]),
        )
        seen: dict[str, str] = dict(state.get("seen") or {})
        floor = max(start, since - OVERLAP)
        zone = ZoneInfo(await self._site.time_zone())
        jql = (f'project = {await self._site.project()} AND updated >= '
               f'"{floor.astimezone(zone):%Y-%m-%d %H:%M}" ORDER BY updated ASC')  # fmt: skip
        found: list[TicketChange] = []
        async for issue in self._site.client.search(jql, FIELDS, expand="changelog"):
            found.extend(await self._changes_of(issue))
        fresh = sorted((c for c in found if c.at >= floor and c.id not in seen),
                       key=lambda c: (c.at, c.id))  # fmt: skip
        newest = max([since, *(c.at for c in fresh)])
        seen.update({c.id: c.at.isoformat() for c in fresh})
        kept = {i: at for i, at in seen.items() if datetime.fromisoformat(at) >= newest - OVERLAP}
        return TicketChangePage(
            changes=tuple(fresh), cursor=_cursor(state["start"], newest.isoformat(), kept)
        )

    async def _changes_of(self, issue: dict[str, Any]) -> list[TicketChange]:
        desk = DeskAccount(account_id=await self._site.desk_account())
        key, fields = str(issue["key"]), issue.get("fields") or {}
        changes: list[TicketChange] = []
        creator = fields.get("creator") or fields.get("reporter")
        if not desk.wrote(creator):
            at = jira_time(fields["created"])
            changes.append(opened_change(issue, at, await self._tickets.get(key)))
        for comment in await self._comments(key, fields.get("comment") or {}):
            changes.append(comment_change(key, comment, jira_time(comment["created"]), desk))
        for history in await self._histories(key, issue.get("changelog") or {}):
            for item in history.get("items") or []:
                if field_of(item) not in FOLLOWED:
                    continue
                status = assignee = None
                if field_of(item) == "status":
                    status = await self._site.status(str(item.get("to")), str(item.get("toString")))
                elif item.get("to"):
                    assignee = await self._site.email_of(str(item["to"])) or str(item["to"])
                changes.append(item_change(
                    str(issue["id"]), key, str(history["id"]), item,
                    at=jira_time(history["created"]), author=history.get("author"), desk=desk,
                    status=status, assignee=assignee))  # fmt: skip
        return changes

    async def _comments(self, key: str, container: dict[str, Any]) -> list[Any]:
        comments = list(container.get("comments") or [])
        if int(container.get("total", len(comments))) > len(comments):
            return await self._site.client.platform_pages(f"/rest/api/3/issue/{key}/comment",
                                                          "comments")  # fmt: skip
        return comments

    async def _histories(self, key: str, changelog: dict[str, Any]) -> list[Any]:
        histories = list(changelog.get("histories") or [])
        if int(changelog.get("total", len(histories))) > len(histories):
            return await self._site.client.platform_pages(f"/rest/api/3/issue/{key}/changelog",
                                                          "values")  # fmt: skip
        return histories


def _cursor(start: str, since: str, seen: dict[str, str]) -> str:
    return json.dumps({"start": start, "since": since, "seen": seen}, sort_keys=True)
