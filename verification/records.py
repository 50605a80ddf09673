"""Where step-up keeps its state in Redis (under the store's `stepup` namespace): challenge
records, the salted digests of the codes the desk checks, the provider's check ids, each
person's recent challenges, each case's failures in a row, and what was sent to each person
lately (checks this hour, credential changes today) for policy to judge. Changes that must
not interleave (two answers racing, two challenges opened at once) are WATCH/MULTI
transactions, so several desk processes can share one Redis."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel
from redis.exceptions import WatchError

from bot.ports import IssuedCheck
from bot.store import Store
from verification.challenge import CaseChecks, Challenge, LockedOut, cancelled

R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

KEEP = timedelta(days=30)  # how long Redis keeps a challenge's and a case's records
RECENT = 20  # challenges remembered per person (the hourly limit keeps far fewer live)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Recent:
    """What was sent to a person lately: checks in the last hour by kind, credential
    changes in the last day, and when the oldest of the hour's checks leaves the window."""

    pushes: int
    codes: int
    changes: int
    oldest_leaves_in: int  # seconds (0 when no check was sent this hour)


class ChallengeRecords:
    """Step-up's records in Redis."""

    def __init__(self, store: Store) -> None:
        self._store = store.child("stepup")
        self._redis = store.redis

    # --- reading ---------------------------------------------------------------------------

    async def get(self, challenge_id: str) -> Challenge | None:
        return _parse(Challenge, await self._redis.get(self._challenge_key(challenge_id)))

    async def by_check(self, check_id: str) -> Challenge | None:
        """The challenge the provider's check `check_id` was issued for."""
        challenge_id = await self._redis.get(self._store.key("check", check_id))
        return None if challenge_id is None else await self.get(_text(challenge_id))

    async def digest(self, challenge_id: str) -> str | None:
        """The salted digest of a code challenge's code (the one the desk minted, or for a
        code the provider checks, the one it accepted: a replay is then recognised)."""
        raw = await self._redis.get(self._store.key("code", challenge_id))
        return None if raw is None else _text(raw)

    async def of_person(self, username: str) -> list[Challenge]:
        """The person's recent challenges, newest first."""
        ids = await self._redis.lrange(self._store.key("person", username), 0, -1)
        if not ids:
            return []
        raws = await self._redis.mget([self._challenge_key(_text(i)) for i in ids])
        return [c for c in (_parse(Challenge, raw) for raw in raws) if c is not None]

    async def case(self, case_id: str) -> CaseChecks:
        raw = await self._redis.get(self._store.key("case", case_id))
        return _parse(CaseChecks, raw) or CaseChecks()

    # --- writing ---------------------------------------------------------------------------

    async def recent(self, username: str, now: datetime) -> Recent:
        """The person's checks of the last hour and credential changes of the last day."""
        issued, changes = self._store.key("issued", username), self._store.key("changes", username)
        at = now.timestamp()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(issued, "-inf", at - HOUR.total_seconds())
            pipe.zrange(issued, 0, -1, withscores=True)
            pipe.zremrangebyscore(changes, "-inf", at - DAY.total_seconds())
            pipe.zcard(changes)
            _, sent, _, changed = await pipe.execute()
        kinds = [_text(member).partition(":")[0] for member, _ in sent]
        oldest = min((score for _, score in sent), default=None)
        leaves = 0 if oldest is None else max(1, math.ceil(oldest + HOUR.total_seconds() - at))
        return Recent(kinds.count("push"), len(kinds) - kinds.count("push"), int(changed), leaves)

    async def count_sent(self, username: str, kind: str, challenge_id: str, now: datetime) -> None:
        """Count a check sent to the person (`kind`: push or code)."""
        key = self._store.key("issued", username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{kind}:{challenge_id}": now.timestamp()})
            pipe.expire(key, math.ceil(HOUR.total_seconds()))
            await pipe.execute()

    async def count_change(self, username: str, what: str, now: datetime) -> None:
        """Count a change to the person's credentials the desk made (an unlock, a reset)."""
        key = self._store.key("changes", username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{what}:{now.timestamp()}": now.timestamp()})
            pipe.expire(key, math.ceil(DAY.total_seconds()))
            await pipe.execute()

    async def open(
        self, challenge: Challenge, digest: str | None, now: datetime
    ) -> tuple[Challenge, Challenge] | None:
        """Store a new challenge as its case's current one, withdrawing the case's previous
        one; returns that one (before, after) when it changed. Raises `LockedOut`."""
        case_key = self._store.key("case", challenge.case_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(case_key)
                    case = _parse(CaseChecks, await pipe.get(case_key)) or CaseChecks()
                    if case.locked:
                        raise LockedOut(challenge.case_id)
                    previous: tuple[Challenge, Challenge] | None = None
                    if case.current is not None:
                        old_key = self._challenge_key(case.current)
                        await pipe.watch(old_key)
                        before = _parse(Challenge, await pipe.get(old_key))
                        if before is not None and before != (after := cancelled(before, now)):
                            previous = (before, after)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for record in (previous[1],) if previous else ():
                        pipe.set(self._challenge_key(record.id), record.model_dump_json(), ex=KEEP)
                    pipe.set(
                        self._challenge_key(challenge.id), challenge.model_dump_json(), ex=KEEP
                    )
                    if digest is not None:
                        pipe.set(self._store.key("code", challenge.id), digest, ex=KEEP)
                    mine = self._store.key("person", challenge.username)
                    pipe.lpush(mine, challenge.id)
                    pipe.ltrim(mine, 0, RECENT - 1)
                    pipe.expire(mine, KEEP)
                    current = case.model_copy(update={"current": challenge.id})
                    pipe.set(case_key, current.model_dump_json(), ex=KEEP)
                    await pipe.execute()
                    return previous
                except WatchError:
                    continue

    async def attach(self, challenge_id: str, issued: IssuedCheck) -> Challenge | None:
        """Record how the provider issued the challenge's check: its id (indexed, so the
        answer finds the challenge), who judges a code (a digest the desk will not judge
        with is dropped), and the provider's expiry when it is sooner."""

        def change(ch: Challenge, case: CaseChecks) -> tuple[Challenge, CaseChecks, None]:
            expires = min(ch.expires_at, issued.expires_at)
            update = {"check_id": issued.id, "verifier": issued.verifier,
                      "address": issued.address, "expires_at": expires,
                      "number": issued.number}  # fmt: skip
            return ch.model_copy(update=update), case, None

        applied = await self.apply(challenge_id, change)
        if applied is None:
            return None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("check", issued.id), challenge_id, ex=KEEP)
            if issued.verifier == "provider":
                pipe.delete(self._store.key("code", challenge_id))
            await pipe.execute()
        return applied[1]

    async def keep_digest(self, challenge_id: str, digest: str) -> None:
        await self._redis.set(self._store.key("code", challenge_id), digest, ex=KEEP)

    async def apply(
        self,
        challenge_id: str,
        change: Callable[[Challenge, CaseChecks], tuple[Challenge, CaseChecks, R]],
    ) -> tuple[Challenge, Challenge, CaseChecks, R] | None:
        """Change a challenge and its case together, atomically; (before, after, case, what
        `change` returned), or None when there is no such challenge. `change` may run again
        when another process wrote in between, so it must have no side effects."""
        key = self._challenge_key(challenge_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    before = _parse(Challenge, await pipe.get(key))
                    if before is None:
                        return None
                    case_key = self._store.key("case", before.case_id)
                    await pipe.watch(case_key)
                    case = _parse(CaseChecks, await pipe.get(case_key)) or CaseChecks()
                    after, case_after, result = change(before, case)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if after != before:
                        pipe.set(key, after.model_dump_json(), ex=KEEP)
                    if case_after != case:
                        pipe.set(case_key, case_after.model_dump_json(), ex=KEEP)
                    await pipe.execute()
                    return before, after, case_after, result
                except WatchError:
                    continue

    def _challenge_key(self, challenge_id: str) -> str:
        return self._store.key("challenge", challenge_id)


def _parse(model: type[M], raw: str | bytes | None) -> M | None:
    return None if raw is None else model.model_validate_json(raw)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
