"""The bot's Bearer token for the Bot Connector, and the connector clients that carry it.

The Bot Connector takes a client-credentials token from Microsoft Entra ID for the bot's app:
scope `https://api.botframework.com/.default`, from the `botframework.com` tenant (or the
bot's own, `ITDESK_TEAMS_TENANT_ID`, for a single-tenant bot), where botbuilder's
`MicrosoftAppCredentials` asks for it. botbuilder fetches it with msal and `requests` inside
its synchronous `get_access_token` hook, which blocks the event loop for as long as Entra ID
takes to answer. Here it is a `ClientCredentialTokens` (aiohttp, cached, fetched again before
it expires): `BotConnectors.create`, which every call to the Bot Connector goes through, awaits
it, and the hook only reads the cache.

With `botbuilder` imported here and in `adapters.chat.teams` only, moving to the Microsoft 365
Agents SDK stays a change to these two files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    PasswordServiceClientCredentialFactory,
)

from adapters.http.tokens import ClientCredentialTokens, TokenSource, TokenUnavailable
from bot.settings import Settings

GivenToken = Callable[[], str]  # a token obtained elsewhere (tests)
SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE + "/.default"


class CachedTokens(TokenSource, Protocol):
    """A `TokenSource` whose last token can be read without awaiting."""

    @property
    def cached(self) -> str | None:
        """The token `token()` fetched, while it is valid; None when there is none."""
        ...


def token_url(settings: Settings) -> str:
    """Where the bot's token comes from: the setting, or the Entra ID endpoint of the
    `botframework.com` tenant (the bot's tenant, for a single-tenant bot)."""
    if settings.teams_token_url is not None:
        return str(settings.teams_token_url)
    c = AuthenticationConstants
    tenant = settings.teams_tenant_id or c.DEFAULT_CHANNEL_AUTH_TENANT
    return str(
        c.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + tenant + c.TO_CHANNEL_FROM_BOT_TOKEN_ENDPOINT_PATH
    )


def bot_connector_tokens(
    settings: Settings, given: GivenToken | None, *, clock: Callable[[], float]
) -> CachedTokens | None:
    """The bot's tokens: `given` when a caller has its own, else fetched from Entra ID with
    the app id and password; None without an app id (local use: no token is sent)."""
    app_id, password = settings.teams_app_id, settings.teams_app_password
    if not app_id:
        return None
    if given is not None:
        return _Given(given)
    if password is None:
        raise ValueError("ITDESK_TEAMS_APP_PASSWORD is required with ITDESK_TEAMS_APP_ID")

    def form() -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": app_id,
            "client_secret": password.get_secret_value(),
            "scope": SCOPE,
        }

    return ClientCredentialTokens(token_url(settings), form, clock=clock)


class _Given:
    """A token from a callable, as a `CachedTokens`."""

    def __init__(self, source: GivenToken) -> None:
        self._source = source

    async def token(self) -> str:
        return self._source()

    def forget(self) -> None:
        """Nothing to forget: the callable is asked every time."""

    @property
    def cached(self) -> str:
        return self._source()


class _CachedTokenCredentials(AppCredentials):  # type: ignore[misc]
    """botbuilder's credentials, whose Bearer token is the one `BotConnectors.create` made
    sure of: the hook botbuilder calls synchronously only reads it."""

    def __init__(self, app_id: str, tokens: CachedTokens | None) -> None:
        super().__init__(app_id=app_id)
        self._tokens = tokens

    def get_access_token(self, force_refresh: bool = False) -> str:
        token = self._tokens.cached if self._tokens is not None else None
        if token is None:
            raise TokenUnavailable("no valid token for the Bot Connector")
        return token


class CachedTokenFactory(PasswordServiceClientCredentialFactory):  # type: ignore[misc]
    """botbuilder's credential factory: credentials answering from `tokens`."""

    def __init__(self, app_id: str, tokens: CachedTokens | None) -> None:
        super().__init__(app_id=app_id or None)
        self._tokens = tokens

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> _CachedTokenCredentials:
        # without an app id botbuilder's credentials set no Authorization header
        return _CachedTokenCredentials(self.app_id or "", self._tokens)


class BotConnectors(ConnectorFactory):  # type: ignore[misc]
    """One Bot Connector client per service URL, for the bot's own app id, reused across
    turns and proactive messages (each holds an HTTP session) and closed with the app.
    Handing one out makes sure of a valid token first (`TokenUnavailable` if none can be
    had): every call to the Bot Connector starts here."""

    def __init__(
        self, auth: BotFrameworkAuthentication, app_id: str, tokens: CachedTokens | None
    ) -> None:
        self._factory = auth.create_connector_factory(bot_identity(app_id))
        self._tokens = tokens
        self._clients: dict[tuple[str, str | None], Any] = {}

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        if self._tokens is not None:
            await self._tokens.token()
        key = (service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = await self._factory.create(service_url, audience)
        return client

    def refused(self) -> None:
        """The Bot Connector answered 401: the next call fetches a new token."""
        if self._tokens is not None:
            self._tokens.forget()

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.__aexit__(None, None, None)


def bot_identity(app_id: str) -> Any:
    """The claims botbuilder needs to make connector clients for the bot's own app id."""
    if not app_id:
        return ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
    claims = {
        AuthenticationConstants.AUDIENCE_CLAIM: app_id,
        AuthenticationConstants.APP_ID_CLAIM: app_id,
    }
    return ClaimsIdentity(claims, True)


__all__ = ["BotConnectors", "CachedTokenFactory", "CachedTokens", "bot_connector_tokens"]
