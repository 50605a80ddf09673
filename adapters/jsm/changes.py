"""The `TicketChange`s of a request's comments, field changes and creation, built alike from
the feed's reads and the webhook's payloads so that one change has one id: a comment's id,
`<issue id>:<changelog history id>:<field>` for a status or assignee change, and
`<issue id>:opened` for a request raised by someone other than the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.jsm.records import change_id, is_public, person_of, plain_text
from bot.ports import Ticket, TicketChange, TicketStatus

FOLLOWED = ("status", "assignee")


@dataclass(frozen=True)
class DeskAccount:
    """How the desk's own account is recognised in what Jira reports: its account id (read
    from `/myself`) or, where only that is known, its e-mail."""

    account_id: str | None = None
    email: str | None = None

    def wrote(self, user: Any) -> bool:
        if not isinstance(user, dict):
            return False
        if self.account_id and user.get("accountId") == self.account_id:
            return True
        email = str(user.get("emailAddress") or "").lower()
        return bool(self.email and email == self.email.lower())


def comment_change(key: str, comment: dict[str, Any], at: datetime, desk: DeskAccount
                   ) -> TicketChange:  # fmt: skip
    author = comment.get("author") or comment.get("updateAuthor")
    return TicketChange(
        id=str(comment["id"]), ticket_id=key, kind="comment" if is_public(comment) else "note",
        at=at, by=person_of(author), by_desk=desk.wrote(author),
        text=plain_text(comment.get("body")),
    )  # fmt: skip


def field_of(item: dict[str, Any]) -> str:
    return str(item.get("fieldId") or item.get("field") or "").lower()


def item_change(
    issue_id: str,
    key: str,
    history_id: str,
    item: dict[str, Any],
    *,
    at: datetime,
    author: Any,
    desk: DeskAccount,
    status: TicketStatus | None = None,
    assignee: str | None = None,
) -> TicketChange:
    field = field_of(item)
    return TicketChange(
        id=change_id(issue_id, history_id, field), ticket_id=key,
        kind="status" if field == "status" else "assignee", at=at, by=person_of(author),
        by_desk=desk.wrote(author), status=status, assignee=assignee,
    )  # fmt: skip


def opened_change(issue: dict[str, Any], at: datetime, ticket: Ticket | None) -> TicketChange:
    fields = issue.get("fields") or {}
    creator = fields.get("creator") or fields.get("reporter")
    return TicketChange(id=f"{issue['id']}:opened", ticket_id=str(issue["key"]), kind="opened",
                        at=at, by=person_of(creator), ticket=ticket)  # fmt: skip
