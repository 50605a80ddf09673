"""The durable turn pipeline, counted: Slack events handed to the inbox before they are
acknowledged, workers taking them out one conversation at a time, a worker killed mid-turn,
a turn that keeps failing, and Redis gone while events arrive. Real redis-server, the real
Slack adapter over HTTP, the fake Slack Web API."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import test_utils, web
from fakes.slack_api import FakeSlack
from pipeline_child import STARTED
from pipeline_desk import FAST, ONCALL, crowd, dm, org, slack_desk, uid, workspace
from redis.asyncio import Redis
from test_slack import envelope, next_ts, signed_post
from waiting import until

from adapters.chat.slack import SlackAdapter
from bot import texts
from bot.inbound import InboxSink
from bot.pipeline import TurnWorker, WorkerConfig
from bot.redis_server import EmbeddedRedis
from bot.state.inbox import Entry, TurnInbox
from bot.state.incidents import IncidentRepository
from bot.store import Store, connect
from bot.wiring import WiredDesk

HERE = Path(__file__).resolve().parent
VPN = "how do I set up the VPN on my laptop?"


@dataclass
class Crowd:
    http: test_utils.TestClient[web.Request, web.Application]
    fake: FakeSlack
    desk: WiredDesk
    adapter: SlackAdapter
    inbox: TurnInbox
    store: Store
    redis_url: str

    async def dm(self, who: str, text: str, *, event_id: str | None = None) -> int:
        """`who` writes in their DM; returns the status the desk acknowledged with."""
        ts = next_ts()
        event = {"type": "message", "channel": dm(who), "channel_type": "im", "user": uid(who),
                 "text": text, "ts": ts, "event_ts": ts}  # fmt: skip
        resp = await signed_post(self.http, envelope(event, event_id), "application/json")
        return resp.status

    def replies(self, who: str) -> int:
        return len(self.fake.in_channel(dm(who)))

    def worker(self, name: str, config: WorkerConfig = FAST, **options: Any) -> TurnWorker:
        return TurnWorker(self.inbox, {"slack": self.adapter}, metrics=self.desk.metrics,
                          config=config, name=name, **options)  # fmt: skip


@pytest.fixture
async def crowd_desk(store: Store, redis_url: str) -> AsyncIterator[Crowd]:
    channels = {ONCALL: True, **{dm(u): True for u in org().users}}
    async with FakeSlack(users=workspace(org()), channels=channels) as fake:
        desk, adapter, inbox = await slack_desk(store, fake.api_url, fake.bot_token, reset=True)
        app = web.Application()
        adapter.install(app)
        http = test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1"))
        await http.start_server()
        try:
            yield Crowd(http, fake, desk, adapter, inbox, store, redis_url)
        finally:
            await http.close()


async def running(*workers: TurnWorker) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    return stop, [asyncio.create_task(w.run(stop)) for w in workers]


async def stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    await asyncio.gather(*tasks)


async def test_many_people_at_once_with_two_workers_each_get_one_answer(crowd_desk: Crowd) -> None:
    c = crowd_desk
    first, second = c.worker("w1"), c.worker("w2")
    stop, tasks = await running(first, second)
    statuses = await asyncio.gather(*(c.dm(who, VPN) for who in crowd()))
    assert set(statuses) == {200}  # acknowledged only once kept in the inbox
    await until(lambda: _all(c.replies(who) >= 1 for who in crowd()))
    await until(lambda: _backlog_is(c.inbox, 0))
    await until(lambda: _both_hold(first, second))
    await stopped(stop, tasks)
    assert [c.replies(who) for who in crowd()] == [1] * len(crowd())  # none lost, none twice
    assert set(first.shards).isdisjoint(second.shards)


async def test_a_conversations_turns_are_handled_in_order(crowd_desk: Crowd) -> None:
    c = crowd_desk
    stop, tasks = await running(c.worker("w1"), c.worker("w2"))
    for n in range(3):
        assert await c.dm("emp01", f"{VPN} ({n})") == 200
    await until(lambda: _replies_are(c, "emp01", 3))
    await stopped(stop, tasks)
    cases = await c.desk.cases.of_requester("emp01")
    assert [case.text for case in cases] == [f"{VPN} ({n})" for n in range(3)]


async def test_a_worker_killed_mid_turn_leaves_the_turn_to_another(crowd_desk: Crowd) -> None:
    c = crowd_desk
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "pipeline_child.py"), c.redis_url, "test", c.fake.api_url,
        c.fake.bot_token, env=env,
    )  # fmt: skip
    redis: Redis = c.store.redis
    try:
        assert await c.dm("emp02", f"HOLD {VPN}") == 200
        await until(lambda: _listed(redis, STARTED))  # the child is in the middle of it
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert c.replies("emp02") == 0
    survivor = c.worker("w2")
    stop, tasks = await running(survivor)
    await until(lambda: _replies_are(c, "emp02", 1))  # the child's lease lapsed; reclaimed
    await until(lambda: _backlog_is(c.inbox, 0))
    await stopped(stop, tasks)
    assert c.replies("emp02") == 1
    assert len(await redis.lrange(STARTED, 0, -1)) == 1


async def test_a_turn_that_keeps_failing_is_dead_lettered_and_the_rest_flow(
    crowd_desk: Crowd, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = crowd_desk
    real = SlackAdapter.process

    async def poisoned(self: SlackAdapter, payload: dict[str, Any], delivery: str | None) -> None:
        if "POISON" in str(payload.get("text")):
            raise RuntimeError("this turn breaks the desk")
        await real(self, payload, delivery)

    monkeypatch.setattr(SlackAdapter, "process", poisoned)
    alerts: list[Entry] = []

    async def alert(entry: Entry, error: str) -> None:
        alerts.append(entry)

    stop, tasks = await running(c.worker("w1", alert=alert))
    assert await c.dm("emp03", "POISON please") == 200
    assert await c.dm("emp03", VPN) == 200  # behind it, in the same conversation
    assert await c.dm("emp04", VPN) == 200
    await until(lambda: _replies_are(c, "emp03", 2))
    await until(lambda: _replies_are(c, "emp04", 1))
    await stopped(stop, tasks)
    buried = await c.inbox.buried()
    assert [row["conversation"] for row in buried] == [dm("emp03")]
    assert "this turn breaks the desk" in buried[0]["error"]
    assert [a.conversation for a in alerts] == [dm("emp03")]
    told, answered = c.fake.in_channel(dm("emp03"))
    assert texts.say("inbox.gave_up") in told.words()
    assert texts.say("runbook.intro") in answered.words()  # the next message, answered


async def test_with_redis_gone_slack_is_not_acknowledged_and_the_retry_is_handled_once(
    crowd_desk: Crowd,
) -> None:
    c = crowd_desk
    gone = TurnInbox(Store(Redis.from_url("redis://127.0.0.1:9/0"), "test"), shards=8)
    sink = InboxSink(gone)
    c.adapter._sink = sink  # the inbox's Redis is unreachable from here on
    assert await c.dm("emp05", VPN, event_id="EvGONE1") == 503
    sink.inbox = c.inbox  # Redis is back; Slack delivers the event again
    stop, tasks = await running(c.worker("w1"))
    assert await c.dm("emp05", VPN, event_id="EvGONE1") == 200
    assert await c.dm("emp05", VPN, event_id="EvGONE1") == 200  # and once more, late
    await until(lambda: _backlog_is(c.inbox, 0))
    await until(lambda: _replies_are(c, "emp05", 1))
    await stopped(stop, tasks)
    assert c.replies("emp05") == 1


async def _all(values: Any) -> bool:
    return all(values)


async def _backlog_is(inbox: TurnInbox, n: int) -> bool:
    return await inbox.backlog() == n


async def _both_hold(first: TurnWorker, second: TurnWorker) -> bool:
    return bool(first.shards) and bool(second.shards)


async def _replies_are(c: Crowd, who: str, n: int) -> bool:
    return c.replies(who) >= n


async def _listed(redis: Redis, key: str) -> bool:
    return bool(await redis.llen(key))


async def test_an_outage_storm_through_429s_is_one_incident_and_every_reply_goes_once(
    crowd_desk: Crowd,
) -> None:
    c = crowd_desk
    c.fake.rate_limit("chat.postMessage", times=3, retry_after=1)  # Slack pushing back
    reporters, unrelated = crowd()[:12], crowd()[12:14]
    stop, tasks = await running(c.worker("w1"), c.worker("w2"))
    statuses = await asyncio.gather(
        *(c.dm(who, "the VPN is down, I can't connect to anything") for who in reporters),
        *(c.dm(who, "I'm locked out of my account") for who in unrelated),
    )
    assert set(statuses) == {200}
    await until(lambda: _all(c.replies(who) >= 1 for who in reporters + unrelated))
    await until(lambda: _backlog_is(c.inbox, 0))
    await until(lambda: _all(_told(c, who) for who in reporters))
    await stopped(stop, tasks)
    open_ones = await IncidentRepository(c.store).open_ones()
    assert len(open_ones) == 1  # one incident for the storm
    for who in reporters:  # the first few also had their runbook before it opened
        assert 1 <= c.replies(who) <= 2
        assert sum(_told_in(m) for m in c.fake.in_channel(dm(who))) == 1
    for who in unrelated:  # their own cases, as usual: a sign-in check each
        assert c.replies(who) == 1
        assert not _told(c, who)
    assert len(c.fake.calls_of("chat.postMessage")) > sum(c.replies(w) for w in crowd())  # retried


def _told_in(message: Any) -> bool:
    return "IT already knows about this problem" in message.words()


def _told(c: Crowd, who: str) -> bool:
    return any(_told_in(m) for m in c.fake.in_channel(dm(who)))


async def test_with_the_inbox_redis_stopped_and_restarted_nothing_is_acked_unkept(
    crowd_desk: Crowd, tmp_path: Path
) -> None:
    c = crowd_desk
    server = EmbeddedRedis(tmp_path / "inbox", persistent=False)
    await server.start()
    client = connect(server.url, pool_timeout=1)
    inbox = TurnInbox(Store(client, "test"), shards=8)
    c.adapter._sink = InboxSink(inbox)
    c.inbox = inbox
    try:
        await server.stop()  # Redis goes away while events arrive
        assert await c.dm("emp06", VPN, event_id="EvSTOP1") == 503
        assert await c.dm("emp07", VPN, event_id="EvSTOP2") == 503
        await server.start()  # back, on the same port; Slack delivers both again
        stop, tasks = await running(c.worker("w1"))
        assert await c.dm("emp06", VPN, event_id="EvSTOP1") == 200
        assert await c.dm("emp07", VPN, event_id="EvSTOP2") == 200
        await until(lambda: _replies_are(c, "emp06", 1))
        await until(lambda: _replies_are(c, "emp07", 1))
        await until(lambda: _backlog_is(inbox, 0))
        await stopped(stop, tasks)
        assert (c.replies("emp06"), c.replies("emp07")) == (1, 1)
    finally:
        await client.aclose()
        await server.stop()
