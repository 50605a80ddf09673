"""Scheduled work: approval expiry and reminders, time-bound access removal.

Jobs wait in a Redis sorted set scored by their due time (epoch seconds) with their bodies in a
hash beside it. A worker claims the earliest due job with one Lua script, which moves it to a
"running" set with a lease, so two workers never run the same claim. Each claim carries a
token; finishing, retrying or dead-lettering a job is a token-checked script, so a worker that
stalled past its lease cannot undo what the worker that took the job over has done.

A failing handler re-queues its job with exponential backoff and, after `max_attempts`, moves
it to a dead-letter list; a kind registered with its own `RetryPolicy` may add jitter and
never give up (`max_attempts=None`). A worker that dies mid-job leaves a lease that `run_due`
reclaims.
Time is the injected `Clock`'s, so scenarios can `advance` a manual clock through weeks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, cast

import structlog
from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

from bot.clock import Clock, ManualClock
from bot.store import Store


class Job(BaseModel):
    """One piece of scheduled work: which handler (`kind`), when, and its arguments.

    `attempts` counts the runs that failed (or whose worker died) so far."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    due: datetime
    payload: dict[str, Any]
    attempts: int = 0
    # The claim this copy of the job was handed out under (absent on pending jobs).
    _claim: str | None = PrivateAttr(default=None)

    @field_validator("due")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class DeadLetter(BaseModel):
    """A job that failed `max_attempts` times, kept for an operator with its last error."""

    job: Job
    error: str
    failed_at: datetime


class RunOutcome(StrEnum):
    """What became of a claimed job."""

    DONE = "done"
    RETRIED = "retried"
    DEAD = "dead"
    STALE = "stale"  # the claim had expired and another worker took the job over


JobHandler = Callable[[Job], Awaitable[None]]


class RetryLater(Exception):
    """Raised by a handler whose work is not done yet for a reason it expected (a backend
    still refusing): the job is retried as any failure is, logged without a stack trace."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a kind of job is retried: `backoff` doubling per failed attempt up to
    `max_backoff`, spread over ±`jitter` of itself (at the cap, below it only), and
    dead-lettered after `max_attempts` (None: never, it is retried until it succeeds)."""

    max_attempts: int | None = 5
    backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=1)
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.backoff <= timedelta(0) or self.max_backoff < self.backoff:
            raise ValueError("backoff must be positive and max_backoff at least backoff")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None: retry forever)")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter must be a fraction in [0, 1)")

    def gives_up(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts

    def delay(self, attempts: int, job_id: str) -> timedelta:
        """How long after its `attempts`-th failure a job runs again. The jitter is a pure
        function of the job and the attempt, so every worker (and a test) computes the same
        spread, and jobs that failed together do not all come back together."""
        # A due time stored with the job for whichever worker claims it next, not a pause in
        # this process: tenacity's waits are read off a retry under way, so this stays
        # arithmetic. Doubling in float seconds, capped: a job retried forever must not overflow.
        cap = self.max_backoff.total_seconds()
        base = min(self.backoff.total_seconds() * 2.0 ** min(max(attempts - 1, 0), 64), cap)
        low, high = base * (1.0 - self.jitter), min(base * (1.0 + self.jitter), cap)
        return timedelta(seconds=low + (high - low) * _unit(f"{job_id}:{attempts}"))


# All scripts take KEYS = due, jobs, running, claims, claimed[, dead]. The keys share one
# hash tag so the scripts also run on Redis Cluster.

# Pop the earliest job due by ARGV[1]; lease it until ARGV[2] under claim token ARGV[3].
_CLAIM = """
while true do
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
  if #head == 0 then return false end
  local id = head[1]
  redis.call('ZREM', KEYS[1], id)
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZADD', KEYS[3], ARGV[2], id)
    redis.call('HSET', KEYS[4], id, ARGV[3])
    redis.call('HSET', KEYS[5], id, body)
    return body
  end
end
"""

# End claim ARGV[2] of job ARGV[1] if it is still held. ARGV[3]: 'done', 'retry' (re-queue
# body ARGV[4] at score ARGV[5], unless the job was scheduled again meanwhile: the newer
# schedule wins) or 'dead' (append ARGV[6] to the dead letters). 0: claim lost; 2: superseded.
_SETTLE = """
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if ARGV[3] == 'retry' then
  if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
elseif ARGV[3] == 'dead' then
  redis.call('RPUSH', KEYS[6], ARGV[6])
end
return 1
"""

# Claims whose lease ended by ARGV[1] (at most ARGV[2]) as {id, token, body}; leases left
# without a claim (a cancelled job's) are dropped on the way.
_EXPIRED = """
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local token = redis.call('HGET', KEYS[4], id)
  local body = redis.call('HGET', KEYS[5], id)
  if token and body then
    table.insert(out, {id, token, body})
  else
    redis.call('ZREM', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
  end
end
return out
"""

# Forget job ARGV[1]: pending, and any claim on it (a run in progress finishes, but is neither
# retried nor reclaimed).
_CANCEL = """
local n = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return n
"""

# Queue job ARGV[1] (body ARGV[2], due ARGV[3]) unless it is pending or running already.
_SCHEDULE_NX = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

_RECLAIM_BATCH = 100


class Scheduler:
    """Runs registered handlers for jobs as they fall due, once each, across any number of
    workers sharing one Redis.

    A handler should be idempotent: a job whose worker died, or that ran past its lease, is
    run again."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        backoff: timedelta = timedelta(minutes=1),
        max_backoff: timedelta = timedelta(hours=1),
    ) -> None:
        if lease <= timedelta(0) or backoff <= timedelta(0) or max_attempts < 1:
            raise ValueError("lease and backoff must be positive and max_attempts at least 1")
        self._store = store
        self._clock = clock
        self._lease = lease
        self._retry = RetryPolicy(max_attempts, backoff, max(max_backoff, backoff))
        self._handlers: dict[str, JobHandler] = {}
        self._policies: dict[str, RetryPolicy] = {}
        self._log = structlog.get_logger("itdesk.scheduler")
        tag = "{schedule}"
        names = ("due", "jobs", "running", "claims", "claimed", "dead")
        self._keys = [store.key(tag, name) for name in names]
        self._due, self._jobs, self._running, _, _, self._dead = self._keys
        redis = store.redis
        self._claim = redis.register_script(_CLAIM)
        self._settle = redis.register_script(_SETTLE)
        self._expired = redis.register_script(_EXPIRED)
        self._cancel = redis.register_script(_CANCEL)
        self._schedule_nx = redis.register_script(_SCHEDULE_NX)

    def register(self, kind: str, handler: JobHandler, *, retry: RetryPolicy | None = None) -> None:
        """Name the coroutine that runs jobs of `kind`; each kind has exactly one. `retry`:
        how its failures are retried (by default the scheduler's backoff and attempts)."""
        if not kind:
            raise ValueError("a job kind must not be empty")
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        call = type(handler).__call__  # an object with an async __call__ will do too
        if not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)):
            raise TypeError(f"the handler for job kind {kind!r} must be an async function")
        self._handlers[kind] = handler
        if retry is not None:
            self._policies[kind] = retry

    async def schedule(
        self,
        kind: str,
        due: datetime,
        payload: dict[str, Any],
        *,
        job_id: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Queue a job; scheduling an existing `job_id` again replaces it (attempts reset),
        unless `if_absent`: then a job pending or running under the id stays as it is."""
        job = Job(id=job_id or secrets.token_hex(12), kind=kind, due=due, payload=payload)
        if if_absent:
            await self._schedule_nx(keys=self._keys[:4], args=[job.id, job.model_dump_json(),
                                                               job.due.timestamp()])  # fmt: skip
            return job.id
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._jobs, job.id, job.model_dump_json())
            pipe.zadd(self._due, {job.id: job.due.timestamp()})
            await pipe.execute()
        return job.id

    async def cancel(self, job_id: str) -> bool:
        """Forget a job. True if it was pending or running (a run in progress still ends)."""
        return bool(await self._cancel(keys=self._keys[:5], args=[job_id]))

    async def has(self, job_id: str) -> bool:
        """Whether a job is pending or running."""
        redis = self._store.redis
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hexists(self._jobs, job_id)
            pipe.hexists(self._keys[3], job_id)
            pending, running = await pipe.execute()
        return bool(pending or running)

    async def claim_due(self) -> Job | None:
        """Take the earliest job due by now, leased to this worker; None if nothing is due.

        Finish it with `run_claimed`; left alone, it is reclaimed when its lease ends."""
        now = self._clock.now()
        token = secrets.token_hex(16)
        body = await self._claim(
            keys=self._keys[:5],
            args=[now.timestamp(), (now + self._lease).timestamp(), token],
        )
        if body is None:
            return None
        job = Job.model_validate_json(body)
        job._claim = token
        return job

    async def run_claimed(self, job: Job) -> RunOutcome:
        """Run a claimed job's handler and settle the job: done, retried later, or dead."""
        token = job._claim
        if token is None:
            raise ValueError(f"job {job.id} was not claimed by this scheduler")
        if not await self._holds(job.id, token):
            return RunOutcome.STALE
        handler = self._handlers.get(job.kind)
        if handler is None:
            return await self._failed(job, token, f"no handler for job kind {job.kind!r}")
        log = self._log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts + 1)
        try:
            # A run may not outlive its lease, or a second worker would run the job too.
            async with asyncio.timeout(self._lease.total_seconds()):
                await handler(job)
        except asyncio.CancelledError:
            await self._release(job, token)
            raise
        except RetryLater as exc:
            log.info("scheduler.job_not_done", reason=str(exc))
            return await self._failed(job, token, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.warning("scheduler.job_failed", exc_info=True)
            return await self._failed(job, token, f"{type(exc).__name__}: {exc}")
        if not await self._settle_claim(job.id, token, "done"):
            log.warning("scheduler.claim_lost_while_running")
            return RunOutcome.STALE
        return RunOutcome.DONE

    async def run_due(self) -> int:
        """Run every job due now, earliest first, including jobs that handlers schedule for
        now or earlier and jobs whose worker died. Returns how many ran (failed or not)."""
        await self._reclaim_expired()
        ran = 0
        while (job := await self.claim_due()) is not None:
            if await self.run_claimed(job) is not RunOutcome.STALE:
                ran += 1
        return ran

    async def next_due(self) -> datetime | None:
        """When the earliest pending job falls due (it may already be overdue)."""
        redis = self._store.redis
        head = cast("list[tuple[Any, float]]", await redis.zrange(self._due, 0, 0, withscores=True))
        if not head:
            return None
        # The body's time, not the score's: a float of epoch seconds does not carry every
        # microsecond far ahead, and `advance` must stop exactly on the job's due time.
        body = await redis.hget(self._jobs, head[0][0])
        if body is None:  # claimed between the two reads
            return datetime.fromtimestamp(float(head[0][1]), UTC)
        return Job.model_validate_json(body).due

    async def pending(self) -> list[Job]:
        """Jobs waiting to run (not those running now), earliest first."""
        redis = self._store.redis
        ids = cast("list[str | bytes]", await redis.zrange(self._due, 0, -1))
        if not ids:
            return []
        bodies = await redis.hmget(self._jobs, ids)
        return [Job.model_validate_json(body) for body in bodies if body is not None]

    async def dead_letters(self) -> list[DeadLetter]:
        """Jobs that exhausted their attempts, oldest first."""
        rows = await self._store.redis.lrange(self._dead, 0, -1)
        return [DeadLetter.model_validate_json(row) for row in rows]

    async def run_forever(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """The worker loop of `itdesk serve`: run due jobs until `stop` is set. An error
        (Redis unreachable) is logged and retried; claimed jobs survive it under their lease."""
        while not stop.is_set():
            delay = poll
            try:
                await self.run_due()
                nxt = await self.next_due()
                if nxt is not None:
                    delay = min(poll, max(0.0, (nxt - self._clock.now()).total_seconds()))
            except Exception:
                self._log.exception("scheduler.loop_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _failed(
        self, job: Job, token: str, error: str, *, retry_at: datetime | None = None
    ) -> RunOutcome:
        """Count a failed run: re-queue the job (by default after a backoff) or, once its
        attempts are spent, move it to the dead letters."""
        attempts = job.attempts + 1
        now = self._clock.now()
        policy = self._policies.get(job.kind, self._retry)
        log = self._log.bind(job_id=job.id, kind=job.kind, attempts=attempts, error=error)
        if policy.gives_up(attempts):
            spent = job.model_copy(update={"attempts": attempts})
            dead = DeadLetter(job=spent, error=error, failed_at=now).model_dump_json()
            if not await self._settle_claim(job.id, token, "dead", dead=dead):
                return RunOutcome.STALE
            log.error("scheduler.job_dead")
            return RunOutcome.DEAD
        due = retry_at if retry_at is not None else now + policy.delay(attempts, job.id)
        retry = job.model_copy(update={"attempts": attempts, "due": due})
        if not await self._settle_claim(job.id, token, "retry", job=retry):
            return RunOutcome.STALE
        log.info("scheduler.job_retry", retry_at=due.isoformat())
        return RunOutcome.RETRIED

    async def _holds(self, job_id: str, token: str) -> bool:
        held = await self._store.redis.hget(self._keys[3], job_id)
        return held is not None and _text(held) == token

    async def _release(self, job: Job, token: str) -> None:
        """Hand a job back unchanged when its worker is shutting down mid-run."""
        try:
            await self._settle_claim(job.id, token, "retry", job=job)
        except Exception:
            self._log.warning("scheduler.release_failed", job_id=job.id, exc_info=True)

    async def _reclaim_expired(self) -> None:
        """Re-queue jobs whose worker died, as a failed attempt, at their original due time so
        they keep their place in line."""
        while True:
            args = [self._clock.now().timestamp(), _RECLAIM_BATCH]
            rows = await self._expired(keys=self._keys[:5], args=args)
            for _id, token, body in rows:
                job = Job.model_validate_json(body)
                self._log.warning("scheduler.lease_expired", job_id=job.id, kind=job.kind)
                lost = "worker lost (lease expired)"
                await self._failed(job, _text(token), lost, retry_at=job.due)
            if len(rows) < _RECLAIM_BATCH:
                return

    async def _settle_claim(
        self,
        job_id: str,
        token: str,
        mode: Literal["done", "retry", "dead"],
        *,
        job: Job | None = None,
        dead: str = "",
    ) -> bool:
        body, score = ("", 0.0) if job is None else (job.model_dump_json(), job.due.timestamp())
        result = await self._settle(keys=self._keys, args=[job_id, token, mode, body, score, dead])
        if result == 2:
            self._log.info("scheduler.retry_superseded", job_id=job_id)
        return bool(result)


async def advance(clock: ManualClock, scheduler: Scheduler, delta: timedelta) -> int:
    """Move a manual clock forward by `delta`, stopping at each job's due time on the way so
    jobs run in order and at their own time (also those scheduled by jobs run on the way).
    Returns how many jobs ran."""
    target = clock.now() + delta
    ran = await scheduler.run_due()
    while (nxt := await scheduler.next_due()) is not None and nxt <= target:
        stepped = nxt > clock.now()
        if stepped:
            clock.set(nxt)
        step = await scheduler.run_due()
        ran += step
        if not stepped and not step:
            break  # another worker holds what is due; nothing left for this one to do
    if target > clock.now():
        clock.set(target)
    return ran + await scheduler.run_due()


def _unit(seed: str) -> float:
    """A number in [0, 1) fixed by `seed`."""
    digest = hashlib.blake2b(seed.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
