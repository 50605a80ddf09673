"""Password reset tokens: the secret in a reset link the desk sends itself (`bot.reset_links`)
and checks on its reset page (`bot.reset_page`).

A token is 32 random bytes, URL-safe; only its SHA-256 is kept, as the key of what it allows
(a `ResetGrant`: whose password, for which case, sent where), so a copy of Redis opens no
account. It lives at most 15 minutes (by the desk's clock; Redis forgets it soon after) and
is used once: taking it is a compare-and-delete. A person has at most three live tokens (a
fourth retires the oldest), and the same request key gets the first token's grant again
instead of a second link."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from pydantic import BaseModel, ConfigDict
from redis.exceptions import WatchError

from bot.clock import Clock
from bot.store import Store

MAX_TTL = timedelta(minutes=15)
MAX_LIVE = 3  # live tokens per person

# KEYS: the token, the person's live tokens. ARGV: the grant as read, the token's digest.
# The token goes only if it is still the grant that was read: two takes, one winner.
_TAKE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""


def token_digest(token: str) -> str:
    """What the desk keeps of a token, and knows it by."""
    return hashlib.sha256(token.encode()).hexdigest()


class ResetGrant(BaseModel):
    """What a live reset token allows: setting `username`'s password, for the case that sent
    it (None for a link sent outside one), until `expires_at`. `address` is where the link
    went, masked; `request` the request key it was minted for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str
    username: str
    case_id: str | None
    address: str
    request: str | None
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Issued:
    """A grant and its token; `token` is None when the request's first grant was returned
    (its link went out already, and the token is not kept to send again)."""

    grant: ResetGrant
    token: str | None


class ResetTokens:
    """The desk's reset tokens, each living `ttl` (at most `MAX_TTL`)."""

    def __init__(self, store: Store, clock: Clock, *, ttl: timedelta = MAX_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError("a reset token must live a while")
        self.ttl = min(ttl, MAX_TTL)
        self._store = store
        self._clock = clock

    def _token_key(self, digest: str) -> str:
        return self._store.key("reset", "token", digest)

    def _person_key(self, username: str) -> str:
        return self._store.key("reset", "person", username)

    def _request_key(self, request: str) -> str:
        return self._store.key("reset", "request", request)

    async def issue(
        self, username: str, *, address: str, case_id: str | None, request: str | None
    ) -> Issued:
        """A new token for `username` (or the first grant of `request`, without its token)."""
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        grant = ResetGrant(digest=token_digest(token), username=username, case_id=case_id,
                           address=address, request=request, issued_at=now,
                           expires_at=now + self.ttl)  # fmt: skip
        stored, ms = grant.model_dump_json(), int(self.ttl.total_seconds() * 1000)
        person = self._person_key(username)
        keep = [person] + ([self._request_key(request)] if request else [])
        async with self._store.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*keep)
                    if request and (first := await pipe.get(self._request_key(request))):
                        return Issued(ResetGrant.model_validate_json(first), None)
                    after = f"({now.timestamp()}"  # the live ones, soonest to expire first
                    live = cast("list[str]", await pipe.zrangebyscore(person, after, "+inf"))
                    retired = live[: max(0, len(live) - MAX_LIVE + 1)]  # the oldest first
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.zremrangebyscore(person, "-inf", now.timestamp())
                    for digest in retired:
                        pipe.delete(self._token_key(digest))
                        pipe.zrem(person, digest)
                    pipe.set(self._token_key(grant.digest), stored, px=ms)
                    pipe.zadd(person, {grant.digest: grant.expires_at.timestamp()})
                    pipe.pexpire(person, ms)
                    if request:
                        pipe.set(self._request_key(request), stored, px=ms)
                    await pipe.execute()
                    return Issued(grant, token)
                except WatchError:
                    continue

    async def _read(self, token: str) -> tuple[str, ResetGrant] | None:
        found = await self._store.redis.get(self._token_key(token_digest(token)))
        if found is None:
            return None
        raw = cast(str, found)  # the client decodes replies
        grant = ResetGrant.model_validate_json(raw)
        return None if grant.expires_at <= self._clock.now() else (raw, grant)

    async def grant(self, token: str) -> ResetGrant | None:
        """What the token allows now: None for a token unknown, used, retired or expired."""
        found = await self._read(token)
        return None if found is None else found[1]

    async def take(self, token: str) -> ResetGrant | None:
        """Use the token up, atomically: its grant for the one caller that got it."""
        found = await self._read(token)
        if found is None:
            return None
        raw, grant = found
        person = self._person_key(grant.username)
        taken = await self._store.redis.eval(
            _TAKE, 2, self._token_key(grant.digest), person, raw, grant.digest
        )
        return grant if taken else None

    async def put_back(self, token: str, grant: ResetGrant) -> bool:
        """Make a taken token good again for what is left of its life (the directory refused
        the password chosen with it); False once it has expired."""
        left = grant.expires_at - self._clock.now()
        if grant.digest != token_digest(token) or left <= timedelta(0):
            return False
        ms = max(1, int(left.total_seconds() * 1000))
        redis = self._store.redis
        stored = grant.model_dump_json()
        if not await redis.set(self._token_key(grant.digest), stored, nx=True, px=ms):
            return False
        await redis.zadd(self._person_key(grant.username),
                         {grant.digest: grant.expires_at.timestamp()})  # fmt: skip
        return True

    async def revoke(self, token: str) -> None:
        """Forget the token and its request (its link never went out), so a retry of the
        request mints a new one."""
        found = await self._read(token)
        if found is None:
            return
        grant = found[1]
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._token_key(grant.digest))
            pipe.zrem(self._person_key(grant.username), grant.digest)
            if grant.request:
                pipe.delete(self._request_key(grant.request))
            await pipe.execute()

    async def first_request(self, request: str) -> bool:
        """Whether this is the first time `request` asks for a link that needs no token (the
        org's own portal), for as long as a token would live."""
        ms = int(self.ttl.total_seconds() * 1000)
        key = self._store.key("reset", "portal", request)
        return bool(await self._store.redis.set(key, "1", nx=True, px=ms))

    async def live(self, username: str) -> int:
        """How many of the person's tokens are live now."""
        after = f"({self._clock.now().timestamp()}"
        return int(await self._store.redis.zcount(self._person_key(username), after, "+inf"))
