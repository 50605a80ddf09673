"""Teams' outbound side at the Bot Connector's pace, in virtual time: replies to one
conversation keep every window of Microsoft's per-conversation table, conversations do not
wait for one another, a 429's Retry-After holds its conversation back (and without one the
call backs off, jittered), and two desk processes sharing Redis keep one pace. The Bot
Connector is the local fake over real HTTP; only time is virtual (`fakes.virtual_time`)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import pytest
from fakes.bot_connector import FakeBotConnector
from fakes.virtual_time import VirtualTime
from test_teams import ONCALL, ROSTER, Harness, running, teams_settings

from adapters.chat.pace import Rate
from adapters.chat.teams_outbound import TeamsOutbound
from adapters.chat.teams_pace import ConnectorTurns, TeamsPace
from adapters.chat.teams_state import ConversationRef
from bot.models import Address, Reply, Send
from bot.store import Store

# A pace that never makes anyone wait: its burst outlasts a conversation's next slot (1 s),
# which a booking for a later slot moves every place past (see tests/test_slack_pace.py).
WIDE = Rate(0.0001, burst=100_000)
ONE_A_SECOND = TeamsPace(conversation=Rate(1.0), conversation_hour=WIDE, tenant=WIDE)
# Microsoft's table, per bot per conversation: at most this many sends in any so many seconds
WINDOWS = {1: 7, 2: 8, 30: 60, 3600: 1800}
_ids = itertools.count(1)


@dataclass
class Teams:
    harness: Harness
    connector: FakeBotConnector

    def process(self, time: VirtualTime, pace: TeamsPace | None = None) -> TeamsOutbound:
        """Teams' outbound side as one desk process has it, in virtual time."""
        teams = self.harness.teams
        return TeamsOutbound(
            teams.state,
            teams.delivery.connector,
            self.harness.desk.directory,
            desk_channel=self.harness.desk.oncall_channel,
            teams_channel=ONCALL,
            default_service=teams.delivery.default_service,
            tenant_id=self.connector.tenant_id,
            pace=pace,
            sleep=time.sleep,
            clock=time.clock,
        )

    async def conversations(self, count: int) -> list[str]:
        """`count` one-to-one chats the desk knows (as if each person had written)."""
        ids = [f"a:29:storm{n:02d}" for n in range(count)]
        for conversation in ids:
            ref = ConversationRef(
                conversation_id=conversation,
                service_url=self.connector.url,
                tenant_id=self.connector.tenant_id,
            )
            await self.harness.teams.state.remember_conversation(ref)
        return ids

    def said(self, conversation: str) -> list[str]:
        return [m.text for m in self.connector.messages(conversation)]

    def posts(self, conversation: str) -> list[tuple[float, str, int | None]]:
        """When each post into a conversation arrived, its text, and the status it got."""
        path = f"/v3/conversations/{conversation}/activities"
        found = [r for r in self.connector.requests if r.method == "POST" and r.path == path]
        return [(r.at, str(r.body.get("text")), r.status) for r in found]


@pytest.fixture
async def teams(store: Store) -> AsyncIterator[Teams]:
    connector = FakeBotConnector()
    for person in ROSTER:
        connector.add_member(person)
    await connector.start()
    try:
        async with running(store, connector, teams_settings(connector.url)) as harness:
            yield Teams(harness, connector)
    finally:
        await connector.close()


def replies(conversation: str, texts: Iterable[str]) -> list[Send]:
    to = Address(conversation=conversation)
    return [Send(to=to, reply=Reply(id=f"T-{next(_ids)}", text=text)) for text in texts]


def most_in_any(times: list[float], seconds: float) -> int:
    """The most of `times` that fall in any window [t, t + seconds)."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered[i:] if u < t + seconds - 1e-6) for i, t in enumerate(ordered))


# --- one conversation ------------------------------------------------------------------------


async def test_fifty_replies_to_one_conversation_keep_every_window_of_the_table(
    teams: Teams,
) -> None:
    time = VirtualTime()
    teams.connector.clock = time.clock
    (chat,) = await teams.conversations(1)
    texts = [f"reply {n}" for n in range(50)]
    await teams.process(time).deliver(replies(chat, texts))

    assert teams.said(chat) == texts  # in order, once each
    times = [at for at, _, _ in teams.posts(chat)]
    assert len(times) == 50
    for seconds, most in WINDOWS.items():
        assert most_in_any(times, seconds) <= most
    assert most_in_any(times, 30) >= 30  # and about one a second: no slower than need be


async def test_a_long_storm_keeps_the_hourly_limit_too(store: Store) -> None:
    time = VirtualTime()
    turns = ConnectorTurns(store, sleep=time.sleep, clock=time.clock)
    sent: list[float] = []

    async def send() -> None:
        sent.append(time.now)

    for _ in range(1900):
        await turns.call(send, tenant="t", conversation="a:29:someone")
    for seconds, most in WINDOWS.items():
        assert most_in_any(sent, seconds) <= most
    assert sent[1799] - sent[0] <= 3600 + 5  # the 1800th within about the hour: no slower


# --- many conversations ------------------------------------------------------------------------


async def test_replies_to_twenty_conversations_interleave(teams: Teams) -> None:
    time = VirtualTime(jumping=False)
    chats = await teams.conversations(20)
    effects = [e for n in range(3) for chat in chats for e in replies(chat, [f"{chat} {n}"])]
    delivery = teams.process(time, ONE_A_SECOND)
    delivering = asyncio.create_task(delivery.deliver(effects))

    for second in range(3):
        if second:
            time.advance(1.0)
        await teams.connector.wait_for_posts(20 * (second + 1))
        if second < 2:
            await time.sleeping(20)  # every conversation waits for its next second
        assert all(len(teams.said(chat)) == second + 1 for chat in chats)
    await delivering
    for chat in chats:
        assert teams.said(chat) == [f"{chat} {n}" for n in range(3)]


# --- 429s ------------------------------------------------------------------------------------


async def test_429s_part_of_the_time_still_post_every_message_once_in_order(
    teams: Teams,
) -> None:
    time = VirtualTime()
    teams.connector.clock = time.clock
    for _ in range(5):  # three posts go through, the next two are refused, and so on
        teams.connector.throttle(times=2, retry_after=7, skip=3)
    chats = await teams.conversations(3)
    texts = {chat: [f"{chat} {n}" for n in range(8)] for chat in chats}
    effects = [e for n in range(8) for chat in chats for e in replies(chat, [texts[chat][n]])]
    await teams.process(time).deliver(effects)

    refused = 0
    for chat in chats:
        assert teams.said(chat) == texts[chat]
        posts = teams.posts(chat)
        for (at, text, status), (after, again, _) in itertools.pairwise(posts):
            if status == 429:
                refused += 1
                assert again == text  # the same message, made again...
                assert after - at >= 7.0  # ...after its Retry-After, no sooner
    assert refused == 10


async def test_a_429_without_retry_after_backs_off_with_jitter(teams: Teams) -> None:
    time = VirtualTime()
    (chat,) = await teams.conversations(1)
    teams.connector.throttle(times=3, retry_after=None)
    await teams.process(time).deliver(replies(chat, ["once"]))
    assert teams.said(chat) == ["once"]
    assert [status for _, _, status in teams.posts(chat)] == [429, 429, 429, None]
    assert len(time.waits) == 3  # a pause before each new try...
    assert all(0 <= wait <= 30 for wait in time.waits)  # ...jittered, bounded


async def test_a_post_that_failed_on_the_way_is_not_made_again(teams: Teams) -> None:
    time = VirtualTime()
    (chat,) = await teams.conversations(1)
    teams.connector.throttle(times=1, retry_after=None, status=502)  # it may have gone through
    await teams.process(time).deliver(replies(chat, ["maybe"]))
    assert len(teams.posts(chat)) == 1


# --- several desk processes ----------------------------------------------------------------


async def test_two_processes_share_a_conversations_pace(teams: Teams) -> None:
    time = VirtualTime()
    (chat,) = await teams.conversations(1)
    pace = TeamsPace(conversation_hour=WIDE, tenant=WIDE)  # the per-second window only
    first, second = teams.process(time, pace), teams.process(time, pace)
    await first.deliver(replies(chat, [f"a{n}" for n in range(6)]))
    assert time.waits == []  # the burst
    await second.deliver(replies(chat, ["b1", "b2", "b3"]))
    assert time.waits == [1.0, 1.0, 1.0]  # the first process's burst counts here too
    assert teams.said(chat) == [f"a{n}" for n in range(6)] + ["b1", "b2", "b3"]
