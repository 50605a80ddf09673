"""What a check provider over a SaaS API keeps of the checks it issued, in Redis: which request
key became which provider id (so the same key again is the same check), and each check's
state once the desk knows it is closed (answered, expired, withdrawn), so a late answer at the
provider cannot reopen it and a provider that forgets its checks cannot lose an answer. Never
a code: the provider mints and keeps those."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from redis.exceptions import WatchError

from adapters.records import text
from bot.clock import Clock
from bot.models import FactorKind
from bot.ports import CheckState, CheckStatus, IssuedCheck, NotFoundError
from bot.store import Store

# how long a check's record is kept past its expiry, for the desk's late reads of it
KEPT_AFTER_EXPIRY = timedelta(days=1)


class KeptCheck(BaseModel):
    """One issued check as the desk keeps it: the provider's id, where it went (masked), and
    its state. `reason` says why it closed where the provider said more than the status
    (a push reported as fraud, too many wrong codes, a bypass refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    key: str
    username: str
    factor: FactorKind
    address: str
    expires_at: datetime
    status: CheckStatus = "pending"
    at: datetime | None = None
    reason: str | None = None

    def issued(self) -> IssuedCheck:
        return IssuedCheck(
            id=self.id,
            kind="push" if self.factor == "push" else "code",
            verifier="provider",
            address=self.address,
            expires_at=self.expires_at,
        )

    def state(self) -> CheckState:
        return CheckState(status=self.status, at=self.at)


class KeptChecks:
    """The checks one provider issued, under `store`'s namespace."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def by_key(self, key: str) -> KeptCheck | None:
        check_id = await self._store.redis.get(self._store.key("key", key))
        return None if check_id is None else await self.get(text(check_id))

    async def get(self, check_id: str) -> KeptCheck | None:
        raw = await self._store.redis.get(self._store.key("check", check_id))
        return None if raw is None else KeptCheck.model_validate_json(raw)

    async def require(self, check_id: str) -> KeptCheck:
        check = await self.get(check_id)
        if check is None:
            raise NotFoundError("check", check_id)
        return check

    async def record(self, check: KeptCheck) -> KeptCheck:
        """Keep a check just issued. Two workers issuing one key at once may both have sent
        one; the first recorded is the check, and the other's record is dropped."""
        ttl = max(check.expires_at - self._clock.now(), timedelta(0)) + KEPT_AFTER_EXPIRY
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("key", check.key), check.id, nx=True, ex=ttl)
            pipe.set(self._store.key("check", check.id), check.model_dump_json(), ex=ttl)
            first, _ = await pipe.execute()
        if first:
            return check
        known = await self.by_key(check.key)
        if known is None or known.id != check.id:
            await self._store.redis.delete(self._store.key("check", check.id))
        return known or check

    async def settle(
        self, check_id: str, status: CheckStatus, *, at: datetime, reason: str | None = None
    ) -> KeptCheck:
        """Close a pending check with `status`; a check already closed stays as it is (two
        workers settling at once agree on the first). Returns the check as it now is."""
        key = self._store.key("check", check_id)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFoundError("check", check_id)
                    check = KeptCheck.model_validate_json(raw)
                    if check.status != "pending" or status == "pending":
                        return check
                    closed = check.model_copy(update={"status": status, "at": at,
                                                      "reason": reason})  # fmt: skip
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, closed.model_dump_json(), keepttl=True)
                    await pipe.execute()
                    return closed
                except WatchError:
                    continue
