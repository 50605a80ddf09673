"""Audit appends under contention: one chain, and no retry storm, whether the appends come
from many coroutines of one process or from several processes over one Redis."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from auditing import AUDIT_KEY, TEST_AUDIT_KEY
from redis.asyncio import Redis

from bot.state.audit import AuditLog
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]


async def _calls(redis: Redis) -> dict[str, int]:
    stats: dict[str, Any] = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def test_200_appends_from_two_logs_make_one_chain_with_few_conflicts(
    redis: Redis, redis_url: str
) -> None:
    # two logs with their own clients: two desk processes sharing one Redis
    other = Redis.from_url(redis_url, decode_responses=True)
    try:
        first, second = (
            AuditLog(Store(redis, "test"), AUDIT_KEY),
            AuditLog(Store(other, "test"), AUDIT_KEY),
        )
        await redis.config_resetstat()
        logs = (first, second)
        await asyncio.gather(*(log.append({"n": n, "by": i}) for n in range(100)
                               for i, log in enumerate(logs)))  # fmt: skip
        calls = await _calls(redis)
    finally:
        await other.aclose()

    verdict = await first.verify()
    assert verdict.ok, verdict.describe()
    assert verdict.checked == 200
    appended = sorted([(rec.record["by"], rec.record["n"]) async for rec in first.records()])
    assert appended == [(i, n) for i in (0, 1) for n in range(100)]
    # a log retries only after the other appended, and at most once per such append
    assert first.conflicts <= 100
    assert second.conflicts <= 100
    assert "watch" not in calls
    appends = calls.get("evalsha", 0) + calls.get("eval", 0)
    assert appends <= 200 + first.conflicts + second.conflicts + 2  # +2: loading the script


async def test_appends_from_one_process_never_conflict(store: Store) -> None:
    log = AuditLog(store, AUDIT_KEY)
    await asyncio.gather(*(log.append({"n": n}) for n in range(100)))
    assert log.conflicts == 0
    assert (await log.verify()).checked == 100
    # a second log (a restarted process) continues the chain it finds
    later = AuditLog(store, AUDIT_KEY)
    await later.append({"n": 100})
    assert later.conflicts == 0
    assert (await later.verify()).checked == 101


_OTHER_PROCESS = """
import asyncio, sys
from redis.asyncio import Redis
from bot.audit import AuditKey
from bot.state.audit import AuditLog
from bot.store import Store

async def main() -> None:
    redis = Redis.from_url(sys.argv[1], decode_responses=True)
    log = AuditLog(Store(redis, "test"), AuditKey(sys.argv[2].encode(), "the tests"))
    print("ready", flush=True)
    sys.stdin.readline()
    await asyncio.gather(*(log.append({"n": n, "by": "child"}) for n in range(100)))
    print(log.conflicts, flush=True)
    await redis.aclose()

asyncio.run(main())
"""


async def test_two_processes_appending_at_once_keep_one_chain(store: Store, redis_url: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OTHER_PROCESS, redis_url, TEST_AUDIT_KEY,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    assert (await child.stdout.readline()).strip() == b"ready"
    log = AuditLog(store, AUDIT_KEY)
    await log.append({"n": -1, "by": "parent"})  # the script is loaded before the race
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    await asyncio.gather(*(log.append({"n": n, "by": "parent"}) for n in range(100)))
    child_conflicts = int((await child.stdout.readline()).strip())
    assert await child.wait() == 0

    verdict = await log.verify()
    assert verdict.ok, verdict.describe()
    assert verdict.checked == 201
    assert log.conflicts <= 100
    assert child_conflicts <= 101
