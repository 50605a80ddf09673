"""The systems the desk acts through, as one bundle of ports: the sandbox's today, real
directories, device management and ticket systems as they come (each chosen by a setting)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ports import (
    Checks,
    Devices,
    Directory,
    LockoutFeed,
    Outbox,
    TicketFeed,
    Tickets,
    TicketWebhooks,
)


@dataclass(frozen=True)
class Backends:
    directory: Directory
    devices: Devices
    tickets: Tickets
    outbox: Outbox
    checks: Checks
    # where new lockouts are read, for the desk to reach out first (None: nowhere)
    lockouts: LockoutFeed | None = None
    # what technicians do in the IT team's ticket system, polled and by webhook (None: the
    # built-in queue, where only the desk writes)
    ticket_feed: TicketFeed | None = None
    ticket_webhooks: TicketWebhooks | None = None
