"""How Jira's records read as the desk's: statuses by their category, priorities by name,
times, the text of Atlassian Document Format bodies, and the TicketChange ids the feed and
the webhook share.

Status mapping (Jira's status categories are `new`, `indeterminate` and `done`): `new` is
open, `indeterminate` in progress, `done` resolved, unless the status is named Closed (or
Canceled, Cancelled, Declined, Done), which is closed. Setting a status takes the first
transition whose target status maps to the status asked for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.models import Priority
from bot.ports import TicketStatus

CLOSED_NAMES = frozenset({"closed", "canceled", "cancelled", "declined", "done"})
PRIORITY_NAMES: dict[Priority, str] = {
    "urgent": "Highest", "high": "High", "normal": "Medium", "low": "Low",
}  # fmt: skip
PRIORITIES_BY_NAME: dict[str, Priority] = {
    "highest": "urgent", "high": "high", "medium": "normal", "low": "low", "lowest": "low",
}  # fmt: skip
PROPERTY = "itdesk"  # the issue entity property that holds the desk's key and case id


def desk_status(name: str, category: str) -> TicketStatus:
    """The desk's status of a Jira status, by its category key (`new`, `indeterminate`,
    `done`; the servicedesk API spells them in capitals)."""
    category = category.lower()
    if category == "done":
        return "closed" if name.lower() in CLOSED_NAMES else "resolved"
    return "in_progress" if category == "indeterminate" else "open"


def desk_priority(name: str | None) -> Priority:
    return PRIORITIES_BY_NAME.get((name or "").lower(), "normal")


def jira_time(value: Any) -> datetime:
    """A Jira timestamp (`2026-12-04T10:00:00.000+0000`, or a servicedesk date object)."""
    if isinstance(value, dict):
        if "epochMillis" in value:
            return datetime.fromtimestamp(int(value["epochMillis"]) / 1000, UTC)
        value = value.get("iso8601", "")
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def as_jira_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def plain_text(body: Any) -> str:
    """The words of a comment or description: a string, or an ADF document's text nodes
    (paragraphs on lines of their own)."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return str(body)
    if body.get("type") == "text":
        return str(body.get("text", ""))
    parts = [plain_text(child) for child in body.get("content") or []]
    joiner = "\n" if body.get("type") == "doc" else ""
    return joiner.join(parts)


def person_of(user: Any) -> str | None:
    """Who a Jira user is, as the directory can find them: the e-mail, else the account id."""
    if not isinstance(user, dict):
        return None
    return str(user.get("emailAddress") or user.get("accountId") or "") or None


def change_id(issue_id: str, history_id: str, field: str) -> str:
    """A field change's id, the same from the feed's changelog and the webhook's."""
    return f"{issue_id}:{history_id}:{field}"


def is_public(comment: dict[str, Any]) -> bool:
    """Whether a comment is for the customer. The servicedesk API says `public`; the platform
    API and the webhooks say `jsdPublic`; an internal comment may also carry a visibility
    restriction or the `sd.public.comment` property with `{"internal": true}`."""
    if "public" in comment:
        return bool(comment["public"])
    if "jsdPublic" in comment:
        return bool(comment["jsdPublic"])
    for prop in comment.get("properties") or []:
        if prop.get("key") == "sd.public.comment":
            return not bool((prop.get("value") or {}).get("internal"))
    return not comment.get("visibility")


def request_type_of(fields: dict[str, Any]) -> str | None:
    """The request type id of an issue's fields: JSM keeps it in a custom field (its id is
    per site) whose value has a `requestType`, found without knowing that id."""
    for value in fields.values():
        if isinstance(value, dict) and isinstance(value.get("requestType"), dict):
            return str(value["requestType"].get("id") or "") or None
    return None
