"""The Table API client the settings describe: OAuth client credentials against
`{url}/oauth_token.do`, or basic auth as the integration user."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.http.tokens import ClientCredentialTokens
from adapters.servicenow.client import ServiceNowClient, Sleep
from bot.settings_tickets import TicketSettings


def client_from_settings(
    settings: TicketSettings,
    *,
    sleep: Sleep = asyncio.sleep,
    session: aiohttp.ClientSession | None = None,
) -> ServiceNowClient:
    url = settings.servicenow_url
    if url is None:
        raise ValueError("ITDESK_SERVICENOW_URL is required")
    url = url.rstrip("/")
    client_id, secret = settings.servicenow_client_id, settings.servicenow_client_secret
    if client_id is not None and secret is not None:
        form = {"grant_type": "client_credentials", "client_id": client_id}
        tokens = ClientCredentialTokens(
            f"{url}/oauth_token.do",
            lambda: {**form, "client_secret": secret.get_secret_value()},
            session=session,
        )
        return ServiceNowClient(url, tokens=tokens, sleep=sleep, session=session)
    user, password = settings.servicenow_user, settings.servicenow_password
    if user is None or password is None:
        raise ValueError("ServiceNow needs an OAuth client or the integration user's password")
    return ServiceNowClient(url, basic=(user, password), sleep=sleep, session=session)
