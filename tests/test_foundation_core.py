"""The store-level building blocks: lock with fencing, dedupe, cases and the audit chain."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from auditing import AUDIT_KEY

from bot.audit import read_export
from bot.audit_verify import verify_export
from bot.cases import CaseError, CaseStatus
from bot.clock import ManualClock
from bot.events import Claimed, Escalated, Verified
from bot.models import Card
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository, StaleLock
from bot.state.conversations import ConversationLocks, LockTimeout
from bot.state.deliveries import Deduplicator
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_dedupe_recognises_a_retried_event_once_its_work_is_committed(store: Store) -> None:
    seen = Deduplicator(store)
    assert await seen.begin("slack", "Ev1", "d1") == "new"
    assert await seen.begin("slack", "Ev1", "d2") == "busy"  # the first is still at work
    assert await seen.begin("teams", "Ev1", "d3") == "new"  # ids are per platform
    await seen.commit("slack", "Ev1")
    assert await seen.begin("slack", "Ev1", "d2") == "done"


async def test_a_delivery_whose_work_failed_is_handled_when_it_comes_again(store: Store) -> None:
    seen = Deduplicator(store)
    assert await seen.begin("slack", "Ev2", "d1") == "new"
    await seen.abandon("slack", "Ev2", "someone else")  # not theirs to give up
    assert await seen.begin("slack", "Ev2", "d2") == "busy"
    await seen.abandon("slack", "Ev2", "d1")
    assert await seen.begin("slack", "Ev2", "d2") == "new"
    # the same inbox entry, delivered again after its worker died, takes its claim over
    assert await seen.begin("slack", "Ev2", "d2") == "new"


async def test_lock_serialises_one_conversation(store: Store) -> None:
    locks = ConversationLocks(store)
    order: list[str] = []

    async def work(name: str) -> None:
        async with locks.hold("dm:alice"):
            order.append(f"{name}-in")
            await asyncio.sleep(0.02)
            order.append(f"{name}-out")

    await asyncio.gather(work("a"), work("b"), work("c"))
    # never two inside at once: every "in" is followed by its own "out"
    for i in range(0, len(order), 2):
        assert order[i].split("-")[0] == order[i + 1].split("-")[0]


async def test_lock_wait_gives_up(store: Store) -> None:
    locks = ConversationLocks(store)
    async with locks.hold("dm:bob"):
        with pytest.raises(LockTimeout):
            async with locks.hold("dm:bob", wait=0.05):
                pass


async def test_fencing_refuses_a_write_after_the_lock_was_taken_over(store: Store) -> None:
    clock = ManualClock(T0)
    cases = CaseRepository(store, AuditLog(store, AUDIT_KEY), clock)
    locks = ConversationLocks(store, ttl_ms=50)
    async with locks.hold("dm:alice") as fence:
        case = await cases.open(
            requester="alice",
            conversation="dm:alice",
            platform="web",
            text="locked out",
            fence=fence.pair(),
        )
        await asyncio.sleep(0.1)  # our lock expires; someone else takes the conversation
        async with locks.hold("dm:alice"):
            with pytest.raises(StaleLock):
                await cases.append(case, Claimed(), actor="desk", fence=fence.pair())


async def test_case_rebuilt_from_events_and_lifecycle_enforced(store: Store) -> None:
    clock = ManualClock(T0)
    cases = CaseRepository(store, AuditLog(store, AUDIT_KEY), clock)
    case = await cases.open(
        requester="alice", conversation="dm:alice", platform="web", text="screen cracked"
    )
    clock.advance(timedelta(minutes=1))
    escalated = Escalated(
        queue="hardware",
        priority="normal",
        ticket_id="INC-1",
        thread_message="m-1",
        summary="screen cracked",
        card=Card(title="Escalated"),
    )
    await cases.append(case, escalated, actor="desk", status=CaseStatus.ESCALATED)
    await cases.append(case, Claimed(), actor="dave", status=CaseStatus.CLAIMED)
    with pytest.raises(CaseError):
        await cases.append(case, Verified(), actor="desk", status=CaseStatus.VERIFYING)
    again = await cases.get(case.id)
    assert again is not None
    assert again.status == CaseStatus.CLAIMED
    assert again.queue == "hardware"
    assert again.ticket_id == "INC-1"
    assert again.claimed_by == "dave"
    assert again.humans == ["dave"]
    assert [e.seq for e in again.events] == [1, 2, 3]
    assert (await cases.latest_open("alice")) is not None


async def test_audit_chain_verifies_and_detects_a_removed_record(store: Store) -> None:
    audit = AuditLog(store, AUDIT_KEY)
    for n in range(5):
        await audit.append({"n": n, "what": "event"})
    assert (await audit.verify()).ok
    records = [r async for r in audit.records()]
    await store.redis.xdel(store.key("audit"), records[2].id)
    verdict = await audit.verify()
    assert not verdict.ok
    assert verdict.broken_at is not None
    assert verdict.broken_at.index == 3
    assert "record 3" in verdict.describe()


async def test_audit_chain_concurrent_appends_stay_one_chain(store: Store) -> None:
    audit = AuditLog(store, AUDIT_KEY)
    await asyncio.gather(*(audit.append({"n": n}) for n in range(40)))
    verdict = await audit.verify()
    assert verdict.ok
    assert verdict.checked == 40


async def test_audit_export_tampering_is_named(store: Store, tmp_path: Path) -> None:
    audit = AuditLog(store, AUDIT_KEY)
    for n in range(4):
        await audit.append({"n": n, "who": "alice"})
    out = io.StringIO()
    assert await audit.export(out) == 4
    path = tmp_path / "audit.jsonl"
    lines = out.getvalue().splitlines()
    row = json.loads(lines[1])
    row["record"]["who"] = "mallory"
    lines[1] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    verdict = verify_export(read_export(path, AUDIT_KEY), AUDIT_KEY, None)
    assert not verdict.ok
    assert verdict.broken_at is not None
    assert verdict.broken_at.index == 1
    assert "changed" in verdict.reason


def test_embedded_redis_stops_when_the_desk_process_is_killed(tmp_path: Path) -> None:
    """A desk killed with SIGKILL leaves no orphaned redis-server holding its data files."""
    import os
    import subprocess
    import sys
    import time

    script = (
        "import asyncio, os, pathlib\n"
        "from bot.redis_server import EmbeddedRedis\n"
        "async def main():\n"
        f"    r = EmbeddedRedis(pathlib.Path({str(tmp_path)!r}), persistent=False)\n"
        "    await r.start()\n"
        "    print(r._proc.pid, flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    child = int(done.stdout.strip())
    for _ in range(200):  # bounded: the server shuts down within a second or so
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, 9)
    pytest.fail("redis-server outlived the killed desk process")


async def test_embedded_redis_keeps_state_across_a_restart(tmp_path: Path) -> None:
    """The desk's own redis-server writes an append-only file: a restart loses nothing."""
    from redis.asyncio import Redis

    from bot.redis_server import EmbeddedRedis

    first = EmbeddedRedis(tmp_path, persistent=True)
    await first.start()
    client = Redis.from_url(first.url, decode_responses=True)
    await client.set("itdesk:probe", "kept")
    await client.aclose()
    await first.stop()

    second = EmbeddedRedis(tmp_path, persistent=True)
    await second.start()
    client = Redis.from_url(second.url, decode_responses=True)
    try:
        assert await client.get("itdesk:probe") == "kept"
    finally:
        await client.aclose()
        await second.stop()
    assert any(tmp_path.rglob("*.aof*"))  # noqa: ASYNC240 (a test, after the server stopped)
