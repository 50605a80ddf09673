"""Bearer tokens for outbound calls: the `TokenSource` an HTTP client asks before each call.

A source fetches its token asynchronously (never a blocking call on the event loop), keeps it
until shortly before it expires, and lets concurrent callers share one fetch."""

from __future__ import annotations

import asyncio
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
    until `REFRESH_MARGIN` seconds before they expire. Concurrent callers share one fetch;
    a caller never waits longer than `timeout` for it. `form` builds the request body each
    time (a client assertion is minted per request), so secrets stay inside it."""

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
        self._fresh_until = float("-inf")
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentialTokens({self.token_url!r})"

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        async with self._lock:  # one fetch for everyone waiting
            if self._token is not None and self._clock() < self._fresh_until:
                return self._token
            token, lifetime = await self._fetch()
            self._token = token
            self._fresh_until = self._clock() + max(lifetime - REFRESH_MARGIN, lifetime / 2)
            return token

    def forget(self) -> None:
        self._token, self._fresh_until = None, float("-inf")

    @property
    def cached(self) -> str | None:
        """The cached token while it is fresh, without fetching (for callers that cannot
        await: botbuilder's synchronous credential hook)."""
        return self._token if self._clock() < self._fresh_until else None

    async def _fetch(self) -> tuple[str, float]:
        try:
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
        limit = aiohttp.ClientTimeout(total=self._timeout)
        async with session.post(self.token_url, data=dict(self._form()), timeout=limit) as r:
            try:
                body = await r.json(content_type=None)
            except ValueError:
                body = None
            if r.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                error = body.get("error") if isinstance(body, dict) else None
                raise TokenUnavailable(
                    f"the token endpoint {self.token_url} refused: HTTP {r.status}"
                    + (f" {error}" if isinstance(error, str) else "")
                )
            return str(body["access_token"]), float(body.get("expires_in", 3600))


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
