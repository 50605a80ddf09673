"""The settings of the IT team's own systems: which ticket system the desk works in
(`ITDESK_TICKETS`: its built-in queue, ServiceNow or Jira Service Management), how to reach
each and how the desk's queues map onto it, and the Confluence spaces runbooks are read
from. `ticket_problems` lists what is missing or wrong, all at once."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

TicketsKind = Literal["builtin", "servicenow", "jsm"]
TICKET_POLL_SECONDS = 30.0


class TicketSettings(BaseSettings):
    tickets: TicketsKind = Field(
        default="builtin", description="builtin (the desk's own queue), servicenow or jsm"
    )
    servicenow_url: str | None = Field(
        default=None, description="https://<instance>.service-now.com"
    )
    servicenow_client_id: str | None = Field(default=None, description="an OAuth client (or basic)")
    servicenow_client_secret: SecretStr | None = None
    servicenow_user: str | None = Field(default=None, description="the desk's integration user")
    servicenow_password: SecretStr | None = None
    servicenow_webhook_secret: SecretStr | None = Field(
        default=None, description="the shared secret the business rule sends with each change"
    )
    servicenow_assignment_groups: dict[str, str] = Field(
        default_factory=dict, description="JSON: the desk's queue -> assignment group name"
    )
    jsm_url: str | None = Field(default=None, description="https://<site>.atlassian.net")
    jsm_email: str | None = Field(default=None, description="the desk's Atlassian account")
    jsm_api_token: SecretStr | None = None
    jsm_service_desk_id: str | None = None
    jsm_request_types: dict[str, str] = Field(
        default_factory=dict, description="JSON: the desk's queue -> request type id"
    )
    jsm_webhook_secret: SecretStr | None = Field(
        default=None, description="the secret of the Jira webhook (its HMAC signature)"
    )
    confluence_url: str | None = Field(
        default=None, description="https://<site>.atlassian.net/wiki: runbooks read from it"
    )
    confluence_email: str | None = None
    confluence_api_token: SecretStr | None = None
    confluence_spaces: str = Field(default="", description="space keys, comma-separated")
    confluence_refresh_minutes: float = Field(default=30, gt=0, description="re-read this often")
    ticket_poll_seconds: float = Field(
        default=TICKET_POLL_SECONDS,
        ge=0,
        description="how often the ticket system is polled for changes (0: never)",
    )

    @property
    def confluence_space_keys(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.confluence_spaces.split(",") if part.strip())


def ticket_problems(s: TicketSettings) -> list[str]:
    """Every problem with the ticket and knowledge settings, each naming its variable."""
    problems: list[str] = []
    if s.tickets == "servicenow":
        if not s.servicenow_url:
            problems.append("ITDESK_SERVICENOW_URL: required with ITDESK_TICKETS=servicenow")
        oauth = s.servicenow_client_id is not None and s.servicenow_client_secret is not None
        basic = s.servicenow_user is not None and s.servicenow_password is not None
        if oauth == basic:
            problems.append(
                "ITDESK_SERVICENOW_CLIENT_ID and _CLIENT_SECRET, or ITDESK_SERVICENOW_USER and "
                "_PASSWORD: exactly one pair is needed with ITDESK_TICKETS=servicenow"
            )
    if s.tickets == "jsm":
        for name in ("jsm_url", "jsm_email", "jsm_api_token", "jsm_service_desk_id"):
            if getattr(s, name) is None:
                problems.append(f"ITDESK_{name.upper()}: required with ITDESK_TICKETS=jsm")
    for name in ("servicenow_url", "jsm_url", "confluence_url"):
        url = getattr(s, name)
        if url is not None and urlsplit(url).scheme not in {"https", "http"}:
            problems.append(f"ITDESK_{name.upper()}: must be an https:// address")
    if s.confluence_url is not None:
        if s.confluence_email is None or s.confluence_api_token is None:
            problems.append(
                "ITDESK_CONFLUENCE_EMAIL and ITDESK_CONFLUENCE_API_TOKEN: required with "
                "ITDESK_CONFLUENCE_URL"
            )
        if not s.confluence_space_keys:
            problems.append("ITDESK_CONFLUENCE_SPACES: the space keys runbooks are read from")
    return problems
