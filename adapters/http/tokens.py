"""Bearer tokens for outbound calls: the `TokenSource` an HTTP client asks before each call.

A source fetches its token asynchronously (never a blocking call on the event loop), keeps it
until shortly before it expires, and lets concurrent callers share one fetch."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import aiohttp
import jwt


class TokenSource(Protocol):
    async def token(self) -> str:
        """A token valid for at least the next minute. Raises `TokenUnavailable` when none
        can be had (the token endpoint refused or cannot be reached)."""
        ...

    def forget(self) -> None:
        """Drop the cached token (the API answered 401 to it): the next `token` fetches."""
        ...


class TokenUnavailable(Exception):
    """No token could be fetched. The message says why in words safe to log: never the
    secret, the assertion or the token itself."""


class StaticToken:
    """A token given as it is (an Okta SSWS API token, a test's token)."""

    def __init__(self, value: str) -> None:
        self._value = value

    async def token(self) -> str:
        return self._value

    def forget(self) -> None:
        """A static token cannot be fetched again."""

    def __repr__(self) -> str:
        return "StaticToken(***)"


# A token is fetched again this long before the endpoint said it expires.
REFRESH_MARGIN = 120.0
FETCH_TIMEOUT = 10.0
Form = Callable[[], Mapping[str, str]]


class ClientCredentialTokens:
    """OAuth 2.0 client-credential tokens from `token_url` (Entra ID for Graph and for the
    Bot Connector, an Okta org's authorization server), fetched with aiohttp and cached
    until `REFRESH_MARGIN` seconds before they expire. Concurrent callers share one fetch,
    and its failure; a caller never waits longer than `timeout` for it. `form` builds the
    request body each time (a client assertion is minted per request), so secrets stay
    inside it."""

    def __init__(
        self,
        token_url: str,
        form: Form,
        *,
        timeout: float = FETCH_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.token_url = token_url
        self._form = form
        self._timeout = timeout
        self._clock = clock
        self._session = session
        self._token: str | None = None
        self._fresh_until = float("-inf")  # fetch again from then on
        self._expires_at = float("-inf")  # no longer valid from then on
        self._fetching: asyncio.Future[str] | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialTokens({self.token_url!r})"

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        if self._fetching is None:  # one fetch for everyone asking meanwhile
            self._fetching = asyncio.ensure_future(self._refresh())
            self._fetching.add_done_callback(self._fetched)
        # a caller that gives up does not cancel the fetch the others wait for
        return await asyncio.shield(self._fetching)

    def forget(self) -> None:
        self._token, self._fresh_until, self._expires_at = None, float("-inf"), float("-inf")

    @property
    def cached(self) -> str | None:
        """The cached token while it has not expired, without fetching (for callers that
        cannot await, such as botbuilder's synchronous credential hook: they read what
        `token` fetched moments before)."""
        return self._token if self._clock() < self._expires_at else None

    async def _refresh(self) -> str:
        asked_at = self._clock()  # the lifetime counts from the request, not the answer
        token, lifetime = await self._fetch()
        self._token = token
        self._expires_at = asked_at + lifetime
        self._fresh_until = asked_at + max(lifetime - REFRESH_MARGIN, lifetime / 2)
        return token

    def _fetched(self, fetch: asyncio.Future[str]) -> None:
        self._fetching = None
        if not fetch.cancelled():
            fetch.exception()  # retrieved: every caller may have given up waiting

    async def _fetch(self) -> tuple[str, float]:
        try:
            async with asyncio.timeout(self._timeout):
                if self._session is not None:
                    return await self._post(self._session)
                async with aiohttp.ClientSession() as session:
                    return await self._post(session)
        except TokenUnavailable:
            raise
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TokenUnavailable(
                f"the token endpoint {self.token_url} cannot be reached ({type(exc).__name__})"
            ) from None

    async def _post(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        async with session.post(self.token_url, data=dict(self._form())) as r:
            try:
                body = await r.json(content_type=None)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {}
            token, lifetime = body.get("access_token"), _seconds(body.get("expires_in", 3600))
            if r.status != 200 or not isinstance(token, str) or not token or lifetime is None:
                error = body.get("error")
                code = f" {error}" if isinstance(error, str) and _ERROR_CODE.match(error) else ""
                raise TokenUnavailable(
                    f"the token endpoint {self.token_url} refused: HTTP {r.status}{code}"
                )
            return token, lifetime


# An OAuth error code ("invalid_client"); anything else an endpoint says is not repeated.
_ERROR_CODE = re.compile(r"[a-z_]{1,64}\Z")


def _seconds(value: object) -> float | None:
    """`expires_in` as a number of seconds (Entra's v1 endpoint sends a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def client_assertion(
    client_id: str,
    audience: str,
    private_key_pem: str,
    *,
    key_id: str | None = None,
    certificate_thumbprint: str | None = None,
    lifetime: int = 300,
) -> str:
    """A signed JWT proving the client holds its private key (RFC 7523), as Okta's
    private_key_jwt and Entra's certificate credentials take it: `key_id` names the key
    (Okta's kid), `certificate_thumbprint` the certificate (Entra's x5t, base64url SHA-1)."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    headers: dict[str, str] = {}
    if key_id:
        headers["kid"] = key_id
    if certificate_thumbprint:
        headers["x5t"] = certificate_thumbprint
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers=headers)
