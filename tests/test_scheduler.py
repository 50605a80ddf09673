"""The scheduler against a real Redis: order, claims, retries, dead letters, leases, advance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from redis.asyncio import Redis

from bot.clock import ManualClock
from bot.scheduler import Job, RetryLater, RetryPolicy, RunOutcome, Scheduler, advance
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def scheduler(store: Store, clock: ManualClock) -> Scheduler:
    return Scheduler(store, clock)


@pytest.fixture
async def other_store(redis_url: str) -> AsyncIterator[Store]:
    """The same namespace through a second connection: another desk process."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield Store(client, "test")
    finally:
        await client.aclose()


class Recorder:
    """A handler that notes each job it ran and the clock's time when it ran."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.ran: list[tuple[str, datetime, int]] = []

    async def __call__(self, job: Job) -> None:
        self.ran.append((job.payload["name"], self.clock.now(), job.attempts))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.ran]


async def test_due_jobs_run_in_due_order_and_later_ones_wait(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    rec = Recorder(clock)
    scheduler.register("note", rec)
    for name, offset in [("c", 0), ("later", 1), ("a", -120), ("b", -60)]:
        await scheduler.schedule("note", T0 + timedelta(seconds=offset), {"name": name})

    assert await scheduler.run_due() == 3
    assert rec.names == ["a", "b", "c"]
    assert [job.payload["name"] for job in await scheduler.pending()] == ["later"]
    assert await scheduler.next_due() == T0 + timedelta(seconds=1)
    assert await scheduler.run_due() == 0


async def test_scheduling_the_same_id_again_replaces_the_job(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    rec = Recorder(clock)
    scheduler.register("note", rec)
    first = await scheduler.schedule("note", T0 + timedelta(hours=1), {"name": "v1"}, job_id="x")
    again = await scheduler.schedule("note", T0 + timedelta(hours=2), {"name": "v2"}, job_id="x")

    assert first == again == "x"
    [job] = await scheduler.pending()
    assert (job.due, job.payload) == (T0 + timedelta(hours=2), {"name": "v2"})
    clock.advance(timedelta(hours=1, minutes=30))
    assert await scheduler.run_due() == 0
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_due() == 1
    assert rec.names == ["v2"]


async def test_cancel_forgets_a_pending_job(scheduler: Scheduler, clock: ManualClock) -> None:
    rec = Recorder(clock)
    scheduler.register("note", rec)
    job_id = await scheduler.schedule("note", T0, {"name": "gone"})
    keep = await scheduler.schedule("note", T0, {"name": "kept"})

    assert await scheduler.cancel(job_id)
    assert not await scheduler.cancel(job_id)
    assert [job.id for job in await scheduler.pending()] == [keep]
    assert await scheduler.run_due() == 1
    assert rec.names == ["kept"]


async def test_register_rejects_duplicates_and_sync_handlers(scheduler: Scheduler) -> None:
    async def handler(job: Job) -> None:
        return None

    def sync_handler(job: Job) -> None:
        return None

    scheduler.register("expire", handler)
    with pytest.raises(ValueError, match="already registered"):
        scheduler.register("expire", handler)
    with pytest.raises(TypeError, match="async"):
        scheduler.register("remind", sync_handler)  # type: ignore[arg-type]
    scheduler.register("remind", Recorder(ManualClock(T0)))  # an async callable object


async def test_concurrent_claimers_never_share_a_job(
    store: Store, other_store: Store, clock: ManualClock
) -> None:
    workers = [Scheduler(store, clock), Scheduler(other_store, clock)]
    ids = {await workers[0].schedule("note", T0 - timedelta(seconds=i), {}) for i in range(40)}

    claims = await asyncio.gather(*(workers[i % 2].claim_due() for i in range(120)))

    claimed = [job.id for job in claims if job is not None]
    assert len(claimed) == len(set(claimed)) == 40
    assert set(claimed) == ids


async def test_concurrent_workers_run_each_job_once(
    store: Store, other_store: Store, clock: ManualClock
) -> None:
    runs: list[str] = []

    async def handler(job: Job) -> None:
        await asyncio.sleep(0)  # let the other worker interleave
        runs.append(job.id)

    workers = [Scheduler(store, clock), Scheduler(other_store, clock)]
    for worker in workers:
        worker.register("note", handler)
    ids = {await workers[0].schedule("note", T0, {}) for _ in range(30)}

    counts = await asyncio.gather(*(worker.run_due() for worker in workers * 2))

    assert sum(counts) == 30
    assert sorted(runs) == sorted(ids)


async def test_a_failing_job_is_retried_with_backoff_then_dead_lettered(
    store: Store, clock: ManualClock
) -> None:
    scheduler = Scheduler(store, clock, max_attempts=3, backoff=timedelta(minutes=1))
    seen: list[int] = []

    async def broken(job: Job) -> None:
        seen.append(job.attempts)
        raise RuntimeError("directory unreachable")

    rec = Recorder(clock)
    scheduler.register("broken", broken)
    scheduler.register("note", rec)
    job_id = await scheduler.schedule("broken", T0, {"name": "b"})
    await scheduler.schedule("note", T0, {"name": "fine"})

    assert await scheduler.run_due() == 2
    assert rec.names == ["fine"]  # the failure did not hold up the other job
    [retry] = await scheduler.pending()
    assert (retry.id, retry.attempts, retry.due) == (job_id, 1, T0 + timedelta(minutes=1))

    assert await scheduler.run_due() == 0  # not before its backoff
    assert await advance(clock, scheduler, timedelta(minutes=1)) == 1
    [retry] = await scheduler.pending()
    assert (retry.attempts, retry.due) == (2, T0 + timedelta(minutes=3))  # backoff doubled
    assert await advance(clock, scheduler, timedelta(hours=1)) == 1

    assert seen == [0, 1, 2]
    assert await scheduler.pending() == []
    [dead] = await scheduler.dead_letters()
    assert (dead.job.id, dead.job.attempts) == (job_id, 3)
    assert dead.error == "RuntimeError: directory unreachable"
    assert dead.failed_at == T0 + timedelta(minutes=3)


async def test_a_kind_retried_forever_backs_off_with_jitter_and_is_never_dead_lettered(
    store: Store, clock: ManualClock
) -> None:
    scheduler = Scheduler(store, clock, max_attempts=2)
    runs: list[datetime] = []

    async def stubborn(job: Job) -> None:
        runs.append(clock.now())
        raise RetryLater("the directory still refuses")

    async def broken(job: Job) -> None:
        raise RetryLater("the directory still refuses")

    forever = RetryPolicy(max_attempts=None, max_backoff=timedelta(minutes=10), jitter=0.25)
    scheduler.register("stubborn", stubborn, retry=forever)
    scheduler.register("broken", broken)  # the scheduler's own policy: two attempts
    await scheduler.schedule("stubborn", T0, {}, job_id="stubborn")
    await scheduler.schedule("broken", T0, {}, job_id="broken")

    await advance(clock, scheduler, timedelta(days=1))
    [dead] = await scheduler.dead_letters()
    assert dead.job.id == "broken"
    [job] = await scheduler.pending()
    assert (job.id, job.attempts) == ("stubborn", len(runs))
    assert len(runs) > 144  # every ten minutes at most, for a day
    assert job.due - clock.now() <= timedelta(minutes=10)
    gaps = {round((b - a).total_seconds()) for a, b in pairwise(runs)}
    assert len(gaps) > 10  # spread by the jitter, not one fixed interval
    assert max(gaps) <= 600


def test_a_retry_policy_is_checked_when_made() -> None:
    for wrong in (
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"max_attempts": 0},
        {"backoff": timedelta(0)},
        {"backoff": timedelta(hours=2)},  # beyond max_backoff
    ):
        with pytest.raises(ValueError, match=r"backoff|attempts|jitter"):
            RetryPolicy(**wrong)  # type: ignore[arg-type]
    plain = RetryPolicy()  # no jitter: exactly the doubling, capped
    assert [plain.delay(n, "j").total_seconds() for n in (1, 2, 3, 7, 8, 500)] == [
        60, 120, 240, 3600, 3600, 3600
    ]  # fmt: skip


async def test_has_says_whether_a_job_is_pending_or_running(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    seen: list[bool] = []

    async def looks(job: Job) -> None:
        seen.append(await scheduler.has(job.id))

    scheduler.register("looks", looks)
    await scheduler.schedule("looks", T0, {}, job_id="j")
    assert await scheduler.has("j")
    assert await scheduler.run_due() == 1
    assert seen == [True]  # while it ran
    assert not await scheduler.has("j")


async def test_a_job_that_fails_once_succeeds_on_retry(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    attempts: list[int] = []

    async def flaky(job: Job) -> None:
        attempts.append(job.attempts)
        if job.attempts == 0:
            raise ConnectionError("blip")

    scheduler.register("flaky", flaky)
    await scheduler.schedule("flaky", T0, {})
    assert await advance(clock, scheduler, timedelta(minutes=5)) == 2
    assert attempts == [0, 1]
    assert await scheduler.pending() == []
    assert await scheduler.dead_letters() == []


async def test_a_job_of_an_unknown_kind_ends_in_the_dead_letters(
    store: Store, clock: ManualClock
) -> None:
    scheduler = Scheduler(store, clock, max_attempts=1)
    await scheduler.schedule("nobody-handles-this", T0, {})
    assert await scheduler.run_due() == 1
    [dead] = await scheduler.dead_letters()
    assert "no handler" in dead.error


async def test_a_crashed_workers_job_is_reclaimed_when_its_lease_ends(
    store: Store, other_store: Store, clock: ManualClock
) -> None:
    crashed = Scheduler(store, clock, lease=timedelta(minutes=1))
    survivor = Scheduler(other_store, clock, lease=timedelta(minutes=1))
    rec = Recorder(clock)
    crashed.register("note", rec)
    survivor.register("note", rec)
    await crashed.schedule("note", T0, {"name": "expire-approval"})

    job = await crashed.claim_due()  # ... and the worker dies here
    assert job is not None
    assert await survivor.run_due() == 0  # still leased
    clock.advance(timedelta(seconds=61))
    assert await survivor.run_due() == 1
    assert rec.ran == [("expire-approval", T0 + timedelta(seconds=61), 1)]

    # The stalled worker wakes up: its claim is gone, so it neither runs nor re-queues the job.
    assert await crashed.run_claimed(job) is RunOutcome.STALE
    assert len(rec.ran) == 1
    assert await survivor.pending() == []
    assert await survivor.run_due() == 0


async def test_a_job_whose_workers_keep_dying_is_dead_lettered(
    store: Store, clock: ManualClock
) -> None:
    scheduler = Scheduler(store, clock, lease=timedelta(minutes=1), max_attempts=1)
    scheduler.register("note", Recorder(clock))
    await scheduler.schedule("note", T0, {"name": "poison"})
    assert await scheduler.claim_due() is not None  # the worker dies on this job
    clock.advance(timedelta(minutes=2))

    assert await scheduler.run_due() == 0
    [dead] = await scheduler.dead_letters()
    assert (dead.job.payload, dead.job.attempts) == ({"name": "poison"}, 1)
    assert "lease expired" in dead.error
    assert await scheduler.pending() == []


async def test_cancel_stops_a_running_job_from_being_retried(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    async def broken(job: Job) -> None:
        raise RuntimeError("boom")

    scheduler.register("broken", broken)
    job_id = await scheduler.schedule("broken", T0, {})
    job = await scheduler.claim_due()
    assert job is not None

    assert await scheduler.cancel(job_id)
    assert await scheduler.run_claimed(job) is RunOutcome.STALE
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_due() == 0
    assert await scheduler.pending() == []
    assert await scheduler.dead_letters() == []


async def test_a_handler_may_reschedule_its_own_job(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    async def remind(job: Job) -> None:
        if job.payload["left"]:
            left = {"left": job.payload["left"] - 1}
            await scheduler.schedule("remind", clock.now() + timedelta(days=1), left, job_id=job.id)

    scheduler.register("remind", remind)
    await scheduler.schedule("remind", T0, {"left": 2}, job_id="approval-42:remind")

    assert await scheduler.run_due() == 1
    [job] = await scheduler.pending()
    assert (job.id, job.due, job.payload) == (
        "approval-42:remind",
        T0 + timedelta(days=1),
        {"left": 1},
    )
    assert await advance(clock, scheduler, timedelta(days=5)) == 2
    assert await scheduler.pending() == []


async def test_run_due_runs_what_handlers_schedule_for_now(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    rec = Recorder(clock)

    async def chain(job: Job) -> None:
        await scheduler.schedule("note", clock.now(), {"name": "follow-up"})

    scheduler.register("chain", chain)
    scheduler.register("note", rec)
    await scheduler.schedule("chain", T0, {})
    assert await scheduler.run_due() == 2
    assert rec.names == ["follow-up"]


async def test_advance_stops_at_each_job_in_order(scheduler: Scheduler, clock: ManualClock) -> None:
    rec = Recorder(clock)

    async def first(job: Job) -> None:
        await rec(job)
        await scheduler.schedule("note", clock.now() + timedelta(hours=1), {"name": "follow-up"})

    scheduler.register("first", first)
    scheduler.register("note", rec)
    await scheduler.schedule("note", T0 + timedelta(hours=72), {"name": "remove-access"})
    await scheduler.schedule("first", T0 + timedelta(hours=24), {"name": "remind"})
    await scheduler.schedule("note", T0 + timedelta(days=92), {"name": "after-the-wait"})

    assert await advance(clock, scheduler, timedelta(days=91)) == 3

    assert rec.ran == [
        ("remind", T0 + timedelta(hours=24), 0),
        ("follow-up", T0 + timedelta(hours=25), 0),
        ("remove-access", T0 + timedelta(hours=72), 0),
    ]
    assert clock.now() == T0 + timedelta(days=91)
    assert [job.payload["name"] for job in await scheduler.pending()] == ["after-the-wait"]


async def test_a_worker_shutting_down_mid_job_hands_it_back(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    started = asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes on its own

    scheduler.register("slow", slow)
    job_id = await scheduler.schedule("slow", T0, {})
    task = asyncio.create_task(scheduler.run_due())
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [job] = await scheduler.pending()
    assert (job.id, job.attempts, job.due) == (job_id, 0, T0)


async def test_run_forever_runs_jobs_until_stopped(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    done = asyncio.Event()

    async def broken(job: Job) -> None:
        raise RuntimeError("boom")

    async def note(job: Job) -> None:
        done.set()

    scheduler.register("broken", broken)
    scheduler.register("note", note)
    stop = asyncio.Event()
    loop = asyncio.create_task(scheduler.run_forever(stop, poll=0.01))
    await scheduler.schedule("broken", T0, {})
    await scheduler.schedule("note", T0, {})

    await asyncio.wait_for(done.wait(), timeout=5)  # the failure did not stop the loop
    stop.set()
    await asyncio.wait_for(loop, timeout=5)
    assert [job.attempts for job in await scheduler.pending()] == [1]


async def test_scheduling_if_absent_keeps_a_pending_job_and_queues_a_missing_one(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    soon, later = clock.now() + timedelta(minutes=1), clock.now() + timedelta(hours=1)
    await scheduler.schedule("sweep", soon, {"n": 1}, job_id="sweep", if_absent=True)
    await scheduler.schedule("sweep", later, {"n": 2}, job_id="sweep", if_absent=True)
    [job] = await scheduler.pending()
    assert (job.due, job.payload) == (soon, {"n": 1})  # the first stays: not pushed back
    await scheduler.schedule("sweep", later, {"n": 3}, job_id="sweep")  # a plain one replaces
    [job] = await scheduler.pending()
    assert (job.due, job.payload) == (later, {"n": 3})


async def test_scheduling_if_absent_leaves_a_running_job_alone(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    await scheduler.schedule("sweep", clock.now(), {}, job_id="sweep")
    claimed = await scheduler.claim_due()
    assert claimed is not None
    await scheduler.schedule("sweep", clock.now(), {}, job_id="sweep", if_absent=True)
    assert await scheduler.pending() == []  # it runs now: no second copy queued behind it
