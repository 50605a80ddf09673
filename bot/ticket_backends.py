"""The IT team's ticket system, as `ITDESK_TICKETS` chooses it: the desk's built-in queue, or
ServiceNow (its Table API) or Jira Service Management in its place, their changes polled
and, with a webhook secret, by webhook. The directory is
whatever the other settings chose (the sandbox's or a real one); it finds a requester's
e-mail where the ticket system does not know their username."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import aiohttp

from adapters.jsm.feed import JsmFeed
from adapters.jsm.tickets import JsmTickets
from adapters.jsm.webhooks import JsmWebhooks
from adapters.servicenow.tickets import ServiceNowTickets
from adapters.servicenow.webhooks import ServiceNowWebhooks
from bot.backends import Backends
from bot.clock import Clock
from bot.settings import Settings

Close = Callable[[], Awaitable[None]]


def with_ticket_system(
    settings: Settings, ports: Backends, clock: Clock
) -> tuple[Backends, Close | None]:
    """`ports` with the configured ticket system in place of the built-in queue, and what
    closes its connections (None: nothing to close)."""
    if settings.tickets == "builtin":
        return ports, None
    session = aiohttp.ClientSession()
    if settings.tickets == "servicenow":
        tickets = ServiceNowTickets.from_settings(settings, directory=ports.directory,
                                                  clock=clock, session=session)  # fmt: skip
        hooks = (ServiceNowWebhooks.from_settings(settings, clock=clock)
                 if settings.servicenow_webhook_secret is not None else None)  # fmt: skip
        replaced = dataclasses.replace(ports, tickets=tickets, ticket_feed=tickets.feed(),
                                       ticket_webhooks=hooks)  # fmt: skip
        return replaced, session.close
    jsm = JsmTickets.from_settings(settings, directory=ports.directory, clock=clock,
                                   session=session)  # fmt: skip
    jsm_hooks = (JsmWebhooks.from_settings(settings)
                 if settings.jsm_webhook_secret is not None else None)  # fmt: skip
    replaced = dataclasses.replace(ports, tickets=jsm, ticket_feed=JsmFeed(jsm, clock),
                                   ticket_webhooks=jsm_hooks)  # fmt: skip
    return replaced, session.close
