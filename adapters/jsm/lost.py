"""Finding the request a create made when its answer was lost: a keyed open must not open a
second ticket when it is tried again, and the key's entity property can only be written once
the request exists. The request looked for is one the desk raised for the same requester,
with the same summary, created at most `RECENT` before the create was sent, whose `itdesk`
property is not written yet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.jsm.records import PROPERTY, jira_time
from adapters.jsm.site import JsmSite

RECENT = timedelta(minutes=1)


async def made_by_lost_create(site: JsmSite, body: dict[str, Any], sent: datetime) -> str | None:
    """The key of the request the create `body`, sent at `sent`, made; None if none."""
    since = sent - RECENT
    local = since.astimezone(ZoneInfo(await site.time_zone()))
    jql = (f'project = {await site.project()} AND reporter = "{body["raiseOnBehalfOf"]}"'
           f' AND created >= "{local:%Y-%m-%d %H:%M}" ORDER BY created DESC')  # fmt: skip
    desk = await site.desk_account()
    summary = body["requestFieldValues"]["summary"]
    async for issue in site.client.search(jql, "summary,creator,created"):
        fields = issue.get("fields") or {}
        if (
            (fields.get("creator") or {}).get("accountId") != desk
            or fields.get("summary") != summary
            or jira_time(fields["created"]) < since
        ):
            continue  # fmt: skip
        key = str(issue["key"])
        marked = await site.client.get(f"/rest/api/3/issue/{key}",
                                       {"fields": "created", "properties": PROPERTY})  # fmt: skip
        if PROPERTY not in (marked.get("properties") or {}):
            return key
    return None
