"""The sandbox directory's passwords: a salted scrypt hash per person in Redis (never the
password), set through the port only after a small policy allows it, as a directory's
password policy would: at least 8 characters, not the username, not the previous password.
Each change is logged in the directory's change log in the transaction that makes it. A
person has no password here until one is set (the org file carries none)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from adapters.changelog import RedisChangeLog
from adapters.records import JsonRecords
from bot.clock import Clock
from bot.models import Person
from bot.store import Store

MIN_LENGTH = 8
# scrypt's interactive-login cost (RFC 7914 suggests n=2**14 for it): ~16 MB and a few tens
# of milliseconds per hash, off the event loop
_N, _R, _P, _MAXMEM = 2**14, 8, 1, 64 * 1024 * 1024


class PasswordHash(BaseModel):
    """What the sandbox keeps of a person's password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    salt: str  # hex, 16 random bytes
    digest: str  # hex scrypt of the password under the salt
    must_change: bool
    changed_at: datetime


def refusal(username: str, password: str) -> str | None:
    """Why the policy refuses `password` for `username` on its own (None: it does not), in
    the words a directory answers with. The reason never repeats the password."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if password.strip().casefold() == username.casefold():
        return "The password must not be your username."
    return None


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=32)


async def _matches(stored: PasswordHash, password: str) -> bool:
    digest = await asyncio.to_thread(_scrypt, password, bytes.fromhex(stored.salt))
    return hmac.compare_digest(digest, bytes.fromhex(stored.digest))


class SandboxPasswords:
    """The passwords of the directory's people (`people`), changes logged in `changelog`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        people: JsonRecords[Person],
        changelog: RedisChangeLog,
    ) -> None:
        self._store = store
        self._clock = clock
        self._people = people
        self._hashes = JsonRecords(store, "password", PasswordHash)
        self._changelog = changelog

    async def set(self, username: str, password: str, *, must_change: bool) -> None:
        """Set the password the policy allows; `ValueError` with its reason otherwise."""
        await self._people.require(username)
        reason = refusal(username, password)
        previous = await self._hashes.get(username)
        if reason is None and previous is not None and await _matches(previous, password):
            reason = "The new password must be different from your previous one."
        if reason is not None:
            raise ValueError(reason)
        salt = secrets.token_bytes(16)
        digest = await asyncio.to_thread(_scrypt, password, salt)
        stored = PasswordHash(salt=salt.hex(), digest=digest.hex(), must_change=must_change,
                              changed_at=self._clock.now())  # fmt: skip
        async with self._store.redis.pipeline(transaction=True) as pipe:
            self._hashes.stage(pipe, username, stored)
            self._changelog.stage(pipe, "set_password", user=username)
            await pipe.execute()

    async def matches(self, username: str, password: str) -> bool:
        """Whether `password` is the person's password now (a sign-in, sandbox only)."""
        stored = await self._hashes.get(username)
        return stored is not None and await _matches(stored, password)

    async def record(self, username: str) -> PasswordHash | None:
        """What is kept of the person's password, None before one was set (sandbox only)."""
        return await self._hashes.get(username)
