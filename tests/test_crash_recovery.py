"""Exactly-once actions across a process killed with SIGKILL at each point of a step: after its
intent, after the backend write, after the read-back, after the record. A second process on
the same Redis recovers (the sweep a starting process runs, or the platform delivering the
turn again): the backend was changed exactly once, there is one audit record per step, a
grant has its expiry, the case is finished, and the person is told once."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from crash_child import ACT_TURN, TOLD, WRITES, desk_on, setup
from redis.asyncio import Redis

from bot import texts
from bot.cases import CaseStatus
from bot.state.actions import ActionRepository
from bot.state.grants import GrantRepository
from bot.store import Store

HERE = Path(__file__).resolve().parent
NAMESPACE = "test"
POINTS = ("intent", "write", "readback", "result")


async def child(redis_url: str, *args: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "crash_child.py"), redis_url, NAMESPACE, *args,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(err.decode()[-3000:])
    return int(proc.returncode or 0)


async def crash_and_recover(
    redis: Redis, redis_url: str, flow: str, point: str, step: int = 0, how: str = "sweep"
) -> Store:
    store = Store(redis, NAMESPACE)
    desk, _ = await desk_on(store, redis, reset=True)
    act = await setup(desk, flow)
    await redis.set(ACT_TURN, act.model_dump_json())
    await redis.delete(WRITES, TOLD)
    assert await child(redis_url, flow, "act", point, str(step)) == -signal.SIGKILL
    # the dead process's conversation lease runs out
    for key in await redis.keys(f"{NAMESPACE}:lock:conversation:*"):
        await redis.delete(key)
    assert await child(redis_url, flow, how) == 0
    return store


async def writes(redis: Redis) -> list[list[str]]:
    return [json.loads(w) for w in await redis.lrange(WRITES, 0, -1)]


async def told(redis: Redis, person: str) -> list[dict[str, Any]]:
    rows = [json.loads(t) for t in await redis.lrange(TOLD, 0, -1)]
    return [r for r in rows if r["to"] == person]


async def executed(store: Store) -> list[dict[str, Any]]:
    desk, _ = await desk_on(store, store.redis, reset=False)
    return [dict(r.record["data"]) async for r in desk.desk.audit.records()
            if r.record.get("type") == "action.executed"]  # fmt: skip


async def finished_case(store: Store, requester: str) -> Any:
    """The requester's case, finished, with nothing left open for recovery."""
    desk, _ = await desk_on(store, store.redis, reset=False)
    case = await desk.case(requester)
    assert case.status == CaseStatus.RESOLVED, case.status
    verdict = await desk.desk.audit.verify()
    assert verdict.ok, verdict.describe()  # one chain across the processes, none cut
    ledger = ActionRepository(store)
    assert await ledger.open_intents() == []
    assert await ledger.acting_since(desk.clock.now() + timedelta(days=1)) == []
    return desk, case


@pytest.mark.parametrize("how", ["sweep", "redeliver"])
@pytest.mark.parametrize("point", POINTS)
async def test_an_unlock_killed_at_any_point_is_done_once_and_told_once(
    redis: Redis, redis_url: str, point: str, how: str
) -> None:
    store = await crash_and_recover(redis, redis_url, "unlock", point, how=how)
    assert await writes(redis) == [["set_locked", "peter", "False"]]
    desk, _ = await finished_case(store, "peter")
    peter = await desk.world.directory.person("peter")
    assert peter is not None
    assert not peter.locked
    records = await executed(store)
    assert [(r["skill"], r["changed"]) for r in records] == [("unlock_account", True)]
    cards = [t for t in await told(redis, "peter") if t["card"] == "status"]
    assert len(cards) == 1, await told(redis, "peter")


@pytest.mark.parametrize("point", POINTS)
async def test_an_approved_grant_killed_at_any_point_is_granted_once_with_its_expiry(
    redis: Redis, redis_url: str, point: str
) -> None:
    store = await crash_and_recover(redis, redis_url, "grant", point)
    assert await writes(redis) == [["add_member", "zoe", "pipeline-reports"]]
    desk, case = await finished_case(store, "zoe")
    assert "pipeline-reports" in await desk.groups_of("zoe")
    records = await executed(store)
    assert [(r["skill"], r["changed"]) for r in records] == [("add_to_group", True)]
    assert records[0]["approved_by"] == ["nina"]
    jobs = {job.id for job in await desk.desk.scheduler.pending()}
    assert f"access-expire:{case.id}:pipeline-reports" in jobs
    grant = await GrantRepository(store).get("zoe", "pipeline-reports")
    assert grant is not None
    assert grant.action == records[0]["action_id"]
    assert len([t for t in await told(redis, "zoe") if t["card"] == "status"]) == 1


@pytest.mark.parametrize("point", POINTS)
async def test_an_undo_killed_at_any_point_is_undone_once_and_its_expiry_dropped(
    redis: Redis, redis_url: str, point: str
) -> None:
    store = await crash_and_recover(redis, redis_url, "undo", point)
    assert await writes(redis) == [["remove_member", "zoe", "pipeline-reports"]]
    desk, case = await finished_case(store, "zoe")
    assert "pipeline-reports" not in await desk.groups_of("zoe")
    records = await executed(store)
    assert [(r["skill"], r["changed"]) for r in records] == [
        ("add_to_group", True),
        ("remove_from_group", True),
    ]
    assert records[1]["undo_of"] == records[0]["action_id"]
    jobs = {job.id for job in await desk.desk.scheduler.pending()}
    assert f"access-expire:{case.id}:pipeline-reports" not in jobs
    undone = [t for t in await told(redis, "zoe") if t["text"] == texts.say("result.undo_done")]
    assert len(undone) == 1, await told(redis, "zoe")


@pytest.mark.parametrize("point", POINTS)
async def test_an_offboarding_killed_in_its_second_step_finishes_the_saga_once(
    redis: Redis, redis_url: str, point: str
) -> None:
    store = await crash_and_recover(redis, redis_url, "offboard", point, step=1)
    done = await writes(redis)
    assert len(done) == len({json.dumps(w) for w in done}), f"a write was repeated: {done}"
    desk, _ = await finished_case(store, "rita")
    samir = await desk.world.directory.person("samir")
    assert samir is not None
    assert samir.disabled
    records = await executed(store)
    keys = [r["idempotency_key"] for r in records]
    assert len(keys) == len(set(keys))
    assert len(keys) >= 2
    assert len([t for t in await told(redis, "rita") if t["card"] == "status"]) == 1
