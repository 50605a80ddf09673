"""The ports the desk and its skills talk through. The sandbox implements every one of them
against an org file with its state in Redis; real backends (LDAP, Okta, Graph, Intune,
ServiceNow) implement the same protocols."""

from __future__ import annotations

from bot.ports.changes import (
    BackendChange as BackendChange,
)
from bot.ports.changes import (
    ChangeLog as ChangeLog,
)
from bot.ports.changes import (
    ChangeOp as ChangeOp,
)
from bot.ports.checks import (
    FACTOR_STRENGTH as FACTOR_STRENGTH,
)
from bot.ports.checks import (
    CheckRequest as CheckRequest,
)
from bot.ports.checks import (
    Checks as Checks,
)
from bot.ports.checks import (
    CheckState as CheckState,
)
from bot.ports.checks import (
    CheckStatus as CheckStatus,
)
from bot.ports.checks import (
    IssuedCheck as IssuedCheck,
)
from bot.ports.checks import (
    Reach as Reach,
)
from bot.ports.checks import (
    Verifier as Verifier,
)
from bot.ports.devices import (
    Devices as Devices,
)
from bot.ports.directory import (
    ContactPoints as ContactPoints,
)
from bot.ports.directory import (
    Contacts as Contacts,
)
from bot.ports.directory import (
    Directory as Directory,
)
from bot.ports.directory import (
    LinkSent as LinkSent,
)
from bot.ports.directory import (
    Master as Master,
)
from bot.ports.directory import (
    Mastered as Mastered,
)
from bot.ports.errors import (
    CAPABILITIES as CAPABILITIES,
)
from bot.ports.errors import (
    CHECK_CAPABILITIES as CHECK_CAPABILITIES,
)
from bot.ports.errors import (
    DEVICE_CAPABILITIES as DEVICE_CAPABILITIES,
)
from bot.ports.errors import (
    DIRECTORY_CAPABILITIES as DIRECTORY_CAPABILITIES,
)
from bot.ports.errors import (
    ClearsByItself as ClearsByItself,
)
from bot.ports.errors import (
    ConflictError as ConflictError,
)
from bot.ports.errors import (
    NotFoundError as NotFoundError,
)
from bot.ports.errors import (
    OutcomeUnknown as OutcomeUnknown,
)
from bot.ports.errors import (
    Unsupported as Unsupported,
)
from bot.ports.lockouts import (
    Lockout as Lockout,
)
from bot.ports.lockouts import (
    LockoutFeed as LockoutFeed,
)
from bot.ports.lockouts import (
    LockoutPage as LockoutPage,
)
from bot.ports.outbox import (
    Outbox as Outbox,
)
from bot.ports.outbox import (
    OutboxItem as OutboxItem,
)
from bot.ports.outbox import (
    OutboxKind as OutboxKind,
)
from bot.ports.outbox import (
    OutboxStatus as OutboxStatus,
)
from bot.ports.ticket_changes import (
    TicketChange as TicketChange,
)
from bot.ports.ticket_changes import (
    TicketChangePage as TicketChangePage,
)
from bot.ports.ticket_changes import (
    TicketFeed as TicketFeed,
)
from bot.ports.ticket_changes import (
    TicketWebhooks as TicketWebhooks,
)
from bot.ports.ticket_changes import (
    WebhookRefused as WebhookRefused,
)
from bot.ports.tickets import (
    NewTicket as NewTicket,
)
from bot.ports.tickets import (
    Ticket as Ticket,
)
from bot.ports.tickets import (
    TicketNote as TicketNote,
)
from bot.ports.tickets import (
    Tickets as Tickets,
)
from bot.ports.tickets import (
    TicketStatus as TicketStatus,
)
