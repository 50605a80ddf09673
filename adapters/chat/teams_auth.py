"""Bot Framework authentication of inbound Teams activities.

The Bot Connector signs a JWT for every activity it posts to the bot. This module checks it as
the Bot Framework documents: a Bearer token issued by `https://api.botframework.com` for the
bot's app id, signed with one of the keys listed in the OpenID metadata's JWKS, a key endorsed
for the activity's channel, not expired (five minutes of clock skew), and a `serviceurl` claim
equal to the activity's `serviceUrl`, so that the bot only ever replies to a Bot Connector.

botbuilder carries the same checks, but it fetches the keys with blocking `requests` calls on
the event loop and lets some failures escape as errors that end as HTTP 500. Here the keys are
fetched with aiohttp and cached, and every failure is an `Unauthorized` (401) or, when the keys
cannot be fetched at all, `KeysUnavailable` (503, the Bot Connector retries). No botbuilder
import: the adapter hands the verified claims to botbuilder itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import structlog

log = structlog.get_logger("itdesk.teams.auth")

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
ALGORITHMS = ("RS256", "RS384", "RS512")
CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE_SECONDS = 24 * 3600  # Microsoft rolls keys over days; refresh daily
UNKNOWN_KID_REFRESH_SECONDS = 300  # an unknown key id refreshes at most this often
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Unauthorized(Exception):
    """The request does not carry a valid Bot Framework token (answer 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The signing keys could not be fetched and none are cached (answer 503)."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the JWKS: the public key and the channels it is endorsed for."""

    kid: str
    key: Any
    endorsements: frozenset[str]


class BotFrameworkTokens:
    """Verifies the Bearer tokens of inbound activities for one bot app id."""

    def __init__(
        self,
        app_id: str,
        metadata_url: str = OPENID_METADATA_URL,
        *,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not app_id:
            raise ValueError("an app id is required to verify Bot Framework tokens")
        self.app_id = app_id
        self.metadata_url = metadata_url
        self.issuer = issuer
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._stale_at = float("-inf")  # when the cached keys must be fetched again
        self._unknown_after = float("-inf")  # when an unknown key id may trigger a fetch
        self._generation = 0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def verify(
        self, authorization: str | None, *, channel_id: str, service_url: str
    ) -> dict[str, Any]:
        """The claims of a valid token; raises `Unauthorized` saying why a token is refused."""
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(f"signing algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("the token names no signing key")
        key = await self._key(kid)
        if key is None:
            raise Unauthorized("the token is signed with an unknown key")
        if key.endorsements and channel_id not in key.endorsements:
            raise Unauthorized(f"the signing key is not endorsed for channel {channel_id!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.app_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token is for another app") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token is not from the Bot Framework") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token ({type(exc).__name__})") from None
        if claims.get("serviceurl") != service_url:
            raise Unauthorized("the token's serviceurl does not match the activity")
        return claims

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- signing keys -------------------------------------------------------------------
    async def _key(self, kid: str) -> SigningKey | None:
        now = self._clock()
        if now >= self._stale_at or (kid not in self._keys and now >= self._unknown_after):
            await self._refresh(self._generation)
        return self._keys.get(kid)

    async def _refresh(self, generation: int) -> None:
        async with self._lock:
            if self._generation != generation:
                return  # another request refreshed the keys while this one waited
            self._generation += 1
            now = self._clock()
            # whatever happens, an unknown key id triggers no new fetch for a few minutes
            self._unknown_after = now + UNKNOWN_KID_REFRESH_SECONDS
            try:
                keys = await self._fetch()
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                log.warning("teams.auth.keys_unavailable", url=self.metadata_url, error=str(exc))
                if not self._keys:
                    raise KeysUnavailable(str(exc)) from None
                self._stale_at = now + UNKNOWN_KID_REFRESH_SECONDS  # keep them, retry soon
                return
            self._keys = keys
            self._stale_at = now + KEYS_MAX_AGE_SECONDS
            log.info("teams.auth.keys_refreshed", count=len(keys))

    async def _fetch(self) -> dict[str, SigningKey]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=FETCH_TIMEOUT)
        async with self._session.get(self.metadata_url) as resp:
            resp.raise_for_status()
            metadata = await resp.json(content_type=None)
        async with self._session.get(str(metadata["jwks_uri"])) as resp:
            resp.raise_for_status()
            jwks = await resp.json(content_type=None)
        keys: dict[str, SigningKey] = {}
        for raw in jwks["keys"]:
            key = _signing_key(raw)
            if key is not None:
                keys[key.kid] = key
        return keys


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; `Unauthorized` otherwise."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise Unauthorized("no Bearer token")
    return token.strip()


def _signing_key(raw: object) -> SigningKey | None:
    if not isinstance(raw, dict) or raw.get("kty") != "RSA" or not raw.get("kid"):
        return None
    try:
        key = jwt.PyJWK.from_dict(raw).key
    except jwt.PyJWTError:
        log.warning("teams.auth.bad_key", kid=raw.get("kid"))
        return None
    endorsements = raw.get("endorsements") or []
    return SigningKey(str(raw["kid"]), key, frozenset(str(e) for e in endorsements))


__all__ = ["BotFrameworkTokens", "KeysUnavailable", "Unauthorized", "bearer_token"]
