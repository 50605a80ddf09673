"""The IT team's ticket queue: a ticket, its history, one to open, and the port."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Priority, Queue

TicketStatus = Literal["open", "in_progress", "resolved", "closed"]


class Ticket(BaseModel):
    """A ticket in the IT team's queue."""

    model_config = ConfigDict(extra="forbid")

    id: str
    key: str | None = None
    case_id: str | None = None
    requester: str
    queue: Queue
    priority: Priority = "normal"
    status: TicketStatus = "open"
    assignee: str | None = None
    summary: str
    details: str = ""
    created_at: datetime
    updated_at: datetime


class TicketNote(BaseModel):
    """One entry in a ticket's history: a note and/or the fields an update changed. A note
    is internal (a work note only the IT team sees) unless `public` (a comment the
    requester sees)."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    text: str = ""
    changes: dict[str, str] = {}
    public: bool = False
    author: str | None = None  # who wrote it, as the ticket system names them; None: the desk


class NewTicket(BaseModel):
    """A ticket to open. `key` is the opener's id for it (the escalation it records):
    opening the same ticket under a key again returns the first one, so a retried
    escalation does not open a second ticket."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, min_length=1, max_length=200)
    case_id: str | None = None
    requester: str
    queue: Queue
    priority: Priority = "normal"
    summary: str
    details: str = ""


class Tickets(Protocol):
    """The IT team's ticket queue. `update` and `notes` raise `NotFoundError` for a ticket
    the queue does not have; the lists are in the order the tickets were opened."""

    async def open(self, ticket: NewTicket) -> Ticket:
        """Open a ticket. With a `key` already used: the ticket opened under it when it is
        the same ticket, else `ConflictError`."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...
    async def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        assignee: str | None = None,
        priority: Priority | None = None,
        note: str | None = None,
        comment: str | None = None,
    ) -> Ticket:
        """Change the given fields and add `note` (internal, for the IT team) and `comment`
        (requester-visible) to the history; fields already as given change nothing."""
        ...

    async def of_requester(self, username: str) -> list[Ticket]: ...
    async def in_queue(self, queue: Queue) -> list[Ticket]: ...
    async def notes(self, ticket_id: str) -> list[TicketNote]: ...
