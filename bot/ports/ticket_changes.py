"""What happens to tickets in the IT team's own ticket system, for the desk to follow: a
technician's comment, an internal note, a new status or assignee, a ticket opened from the
portal or by e-mail. Read by polling with a cursor (`TicketFeed`) and pushed by webhook
(`TicketWebhooks`); the same change from either has the same id, so it is relayed once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.ports.tickets import Ticket, TicketStatus

TicketChangeKind = Literal["opened", "comment", "note", "status", "assignee"]


class TicketChange(BaseModel):
    """One change to one ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The ticket system's own id for the change (a journal entry's sys_id, a comment id, a
    # field's audit id): the same change read by poll and by webhook has the same id.
    id: str = Field(min_length=1)
    ticket_id: str
    kind: TicketChangeKind
    at: datetime
    # Who made it, as the directory can find them (an e-mail or a username); None: unknown.
    by: str | None = None
    by_desk: bool = False  # the desk's own write coming back: never relayed
    text: str = ""  # a comment's or note's words, as plain text
    status: TicketStatus | None = None  # for "status": the new one
    assignee: str | None = None  # for "assignee": the new one (None: unassigned)
    ticket: Ticket | None = None  # for "opened": the ticket as the system holds it


class TicketChangePage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    changes: tuple[TicketChange, ...] = ()
    cursor: str  # opaque to the desk; kept in Redis between polls


class TicketFeed(Protocol):
    """Changes since a cursor, oldest first. A first poll (`cursor` None) starts now and
    returns only the cursor. A change may come again in a later page (the desk
    de-duplicates by id); none may be skipped. A system that cannot be read raises, and the
    desk polls again from the same cursor."""

    async def changes_since(self, cursor: str | None) -> TicketChangePage: ...


class WebhookRefused(Exception):
    """A webhook call that is not the ticket system's: unsigned, a wrong signature or shared
    secret, or a body that is not its shape. Answered 401 (or 400), and nothing changes."""


class TicketWebhooks(Protocol):
    """The changes a webhook call carries, once the call is proven to come from the ticket
    system (its signature or shared secret checked before the body is parsed)."""

    def parse(self, headers: Mapping[str, str], body: bytes) -> tuple[TicketChange, ...]:
        """Raises `WebhookRefused`."""
        ...
