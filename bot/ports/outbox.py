"""What the desk sends out of band (a code, a link, a notice of a change) and the port that
delivers it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.models import FactorKind

OutboxKind = Literal["code", "push", "reset_link", "enrolment_link", "notification"]
OutboxStatus = Literal["pending", "approved", "denied", "used", "expired", "withdrawn", "delivered"]


class OutboxItem(BaseModel):
    """Something sent out of band to a person: a one-time code, a push to approve, a reset or
    enrolment link, or a notification. `secret` is the minted value (code, token); it reaches
    the person's phone or mailbox only and never a chat message."""

    model_config = ConfigDict(extra="forbid")

    id: str
    to: str  # username
    channel: FactorKind | Literal["email_all"]
    address: str  # the masked destination, e.g. "+44 •••• ••12" or "a•••@globex.test"
    kind: OutboxKind
    text: str
    secret: str | None = None
    ref: str | None = None  # the check a push or code belongs to (`Checks`)
    status: OutboxStatus = "delivered"
    created_at: datetime
    expires_at: datetime | None = None


class Outbox(Protocol):
    """Delivery of the notices the desk itself sends out of band (a change to someone's
    account, told at every address they have). Links are the directory's to send, and
    sign-in checks go through `Checks`."""

    async def deliver(self, item: OutboxItem) -> OutboxItem:
        """Send the item; delivering the same id again changes nothing."""
        ...
