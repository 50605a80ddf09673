"""The Slack outbox at Slack's pace, in virtual time: messages to one channel go out one a
second (after a short burst) in order and once each, channels do not wait for one another,
a 429's Retry-After holds its channel back, and two desk processes sharing Redis keep one
pace between them. The Web API is the local fake over real HTTP, Redis the test server;
only time is virtual (`fakes.virtual_time`), so no test waits for real and none asserts on
how long anything took."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.slack_api import FakeSlack, SlackUserRecord
from fakes.virtual_time import VirtualTime

from adapters.chat.pace import Pace, Rate
from adapters.chat.slack import SlackConfig, web_client
from adapters.chat.slack_delivery import SlackDelivery
from adapters.chat.slack_people import SlackPeople
from adapters.chat.slack_posting import SlackPace
from adapters.chat.slack_state import SlackState
from bot.clock import ManualClock
from bot.models import Address, Reply, Send
from bot.org import load_org
from bot.store import Store
from bot.world import SandboxWorld

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
CHANNELS = [f"C{n:02d}STORM" for n in range(60)]
# A workspace pace that never makes anyone wait. Its burst must outlast a channel's next slot
# (1 s here): a booking made for a later slot moves every place's next arrival past that
# slot, so with a shorter window a channel's second message would hold back another
# channel's first (it did, by a few milliseconds, when the couriers ran in another order).
WIDE = Rate(0.0001, burst=100_000)
ONE_A_SECOND = SlackPace(channel=Rate(1.0), posts=WIDE)  # no burst, per channel only
_ids = itertools.count(1)


@dataclass
class Outbox:
    """What a desk process needs to post to the fake Slack: its delivery, in virtual time."""

    fake: FakeSlack
    state: SlackState
    people: SlackPeople

    def process(self, time: VirtualTime, pace: SlackPace | None = None) -> SlackDelivery:
        """A `SlackDelivery` as one desk process has it (several may share the store)."""
        config = SlackConfig(bot_token=self.fake.bot_token, api_url=self.fake.api_url)
        return SlackDelivery(
            web_client(config, rate_limit_retries=0),
            self.state,
            self.people,
            oncall_alias="oncall",
            oncall_channel=None,
            inline_max=5,
            retry_delay=3600.0,
            pace=pace,
            sleep=time.sleep,
            clock=time.clock,
        )

    def said(self, channel: str) -> list[str]:
        return [m.text for m in self.fake.in_channel(channel)]

    def post_times(self, channel: str) -> list[float]:
        calls = self.fake.calls_of("chat.postMessage")
        return [c.at for c in calls if c.args["channel"] == channel]


@pytest.fixture
async def outbox(store: Store) -> AsyncIterator[Outbox]:
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    users = [SlackUserRecord("UBOB", "bob@globex.test", "Bob Okafor")]
    async with FakeSlack(users=users, channels=dict.fromkeys(CHANNELS, True)) as fake:
        state = SlackState(store.child("slack"))
        config = SlackConfig(bot_token=fake.bot_token, api_url=fake.api_url)
        people = SlackPeople(
            web_client(config), state, world.directory, clock.now, config.user_cache
        )
        yield Outbox(fake, state, people)


def replies(channel: str, texts: Iterable[str]) -> list[Send]:
    to = Address(conversation=f"slack:{channel}")
    return [Send(to=to, reply=Reply(id=f"M-{next(_ids)}", text=text)) for text in texts]


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


# --- the pace itself ---------------------------------------------------------------------


async def test_the_pace_hands_out_distinct_slots_to_every_process(store: Store) -> None:
    time = VirtualTime()
    first, second = Pace(store, clock=time.clock), Pace(store, clock=time.clock)
    channel = [("channel:C1", Rate(1.0, burst=3))]
    waits = [await (first if n % 2 else second).book(channel) for n in range(8)]
    assert waits == [0, 0, 0, 1, 2, 3, 4, 5]  # a burst of three, then one a second

    time.now += 60  # a quiet minute: the burst is back, and the stricter place decides
    workspace = ("workspace:posts", Rate(0.5, burst=1))
    assert [await first.book([*channel, workspace]) for _ in range(3)] == [0, 0.5, 1.0]

    await second.hold("channel:C1", Rate(1.0, burst=3), 30)  # a 429 with Retry-After: 30
    assert await first.book(channel) == 30
    assert await first.book(channel) == 31  # and no burst right after it


# --- one channel -------------------------------------------------------------------------


async def test_fifty_replies_to_one_channel_go_out_in_order_once_each_at_its_pace(
    outbox: Outbox,
) -> None:
    time = VirtualTime()
    outbox.fake.clock = time.clock
    delivery = outbox.process(time)  # Slack's own pace: a burst of 3, then 1 a second
    texts = [f"reply {n}" for n in range(50)]
    for send in replies(CHANNELS[0], texts):
        await delivery.deliver([send])  # one turn after another
    await delivery.settled()

    assert outbox.said(CHANNELS[0]) == texts
    assert len(outbox.fake.calls_of("chat.postMessage")) == 50
    assert time.waits == [1.0] * 47
    assert gaps(outbox.post_times(CHANNELS[0])) == [0, 0] + [1.0] * 47
    assert await outbox.state.pending() == 0


# --- many channels -----------------------------------------------------------------------


async def test_replies_to_twenty_channels_interleave_and_none_waits_for_another(
    outbox: Outbox,
) -> None:
    time = VirtualTime(jumping=False)
    delivery = outbox.process(time, ONE_A_SECOND)
    channels = CHANNELS[:20]
    for round_ in range(4):
        for channel in channels:
            await delivery.deliver(replies(channel, [f"{channel} {round_}"]))

    for second in range(4):
        if second:
            time.advance(1.0)
        for channel in channels:  # each channel's next message, in the same second
            await outbox.fake.wait_for_messages(channel, second + 1)
        if second < 3:
            await time.sleeping(len(channels))  # every channel waits for its next second
        assert all(len(outbox.said(c)) == second + 1 for c in channels)
    await delivery.settled()

    for channel in channels:
        assert outbox.said(channel) == [f"{channel} {n}" for n in range(4)]
    assert len(outbox.fake.calls_of("chat.postMessage")) == 80


async def test_replies_to_many_people_keep_to_the_workspaces_pace(outbox: Outbox) -> None:
    time = VirtualTime(jumping=False)
    workspace = SlackPace(posts=Rate.per_second(5, burst=20))  # a workspace held to 300 a minute
    delivery = outbox.process(time, workspace)
    for channel in CHANNELS:
        await delivery.deliver(replies(channel, [f"hello {channel}"]))
    await time.sleeping(len(CHANNELS) - 20)
    assert len(outbox.fake.messages) == 20  # the burst; everyone else has a slot booked

    for step in range(1, 41):
        time.advance(0.2)
        await outbox.fake.wait_for_posts(20 + step)
        assert len(outbox.fake.messages) == 20 + step  # one more every fifth of a second
    await delivery.settled()
    assert sorted(m.channel for m in outbox.fake.messages) == CHANNELS


# --- 429s ----------------------------------------------------------------------------------


async def test_429s_part_of_the_time_still_post_every_message_once_in_order(
    outbox: Outbox,
) -> None:
    time = VirtualTime()
    outbox.fake.clock = time.clock
    for _ in range(5):  # three calls go through, the next two are refused, and so on
        outbox.fake.rate_limit("chat.postMessage", times=2, retry_after=7, skip=3)
    delivery = outbox.process(time)
    texts = {channel: [f"{channel} {n}" for n in range(8)] for channel in CHANNELS[:3]}
    for n in range(8):
        for channel in texts:
            await delivery.deliver(replies(channel, [texts[channel][n]]))
    await delivery.settled()

    calls = outbox.fake.calls_of("chat.postMessage")
    assert len(calls) == 24 + 10  # every refused call was made once more, no other
    for channel, said in texts.items():
        assert outbox.said(channel) == said
        mine = [c for c in calls if c.args["channel"] == channel]
        for call, after in itertools.pairwise(mine):
            if after.args["text"] == call.args["text"]:  # refused, then made again
                assert after.at - call.at >= 7.0  # its Retry-After: the channel kept quiet
    assert await outbox.state.pending() == 0


# --- several desk processes ------------------------------------------------------------------


async def test_two_processes_keep_one_channel_at_one_pace(outbox: Outbox) -> None:
    time = VirtualTime()
    outbox.fake.clock = time.clock
    first, second = outbox.process(time), outbox.process(time)
    await first.deliver(replies(CHANNELS[0], ["a1", "a2", "a3"]))
    await first.settled()
    assert time.waits == []  # the burst

    await second.deliver(replies(CHANNELS[0], ["b1", "b2", "b3"]))
    await second.settled()
    assert time.waits == [1.0, 1.0, 1.0]  # the other process's burst counts here too

    for n in range(10):  # both at once: the lane's lock takes turns, the pace holds
        await first.deliver(replies(CHANNELS[0], [f"x{n}"]))
        await second.deliver(replies(CHANNELS[0], [f"y{n}"]))
    await first.settled()
    await second.settled()
    expected = ["a1", "a2", "a3", "b1", "b2", "b3"] + [f"{w}{n}" for n in range(10) for w in "xy"]
    assert outbox.said(CHANNELS[0]) == expected
    assert all(gap >= 1.0 for gap in gaps(outbox.post_times(CHANNELS[0]))[2:])


async def test_a_message_waiting_its_turn_survives_a_restart(outbox: Outbox) -> None:
    time = VirtualTime(jumping=False)
    before = outbox.process(time, ONE_A_SECOND)
    await before.deliver(replies(CHANNELS[0], ["one", "two", "three"]))
    await outbox.fake.wait_for_messages(CHANNELS[0], 1)
    await time.sleeping(1)  # "two" waits for its second...
    await before.close()  # ...when the process stops
    assert outbox.said(CHANNELS[0]) == ["one"]
    assert await outbox.state.pending() == 2

    after = outbox.process(VirtualTime(time.now), ONE_A_SECOND)  # the next start
    assert await after.flush()
    assert outbox.said(CHANNELS[0]) == ["one", "two", "three"]
    assert await outbox.state.pending() == 0


async def test_a_message_posted_just_before_a_crash_is_not_posted_again(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = outbox.process(VirtualTime(jumping=False))  # its retry never comes
    done = outbox.state.done

    async def crash_before_it_leaves_the_outbox(lane: str, raw: str) -> None:
        raise ConnectionError("the process died here")

    monkeypatch.setattr(outbox.state, "done", crash_before_it_leaves_the_outbox)
    await crashed.deliver(replies(CHANNELS[0], ["only once"]))
    await crashed.settled()
    await crashed.close()
    assert await outbox.state.pending() == 1  # posted, and still in the outbox

    monkeypatch.setattr(outbox.state, "done", done)
    assert await outbox.process(VirtualTime()).flush()  # the next start
    assert outbox.said(CHANNELS[0]) == ["only once"]
    assert len(outbox.fake.calls_of("chat.postMessage")) == 1
    assert await outbox.state.pending() == 0


async def test_a_lane_left_locked_by_a_process_that_died_is_taken_over(outbox: Outbox) -> None:
    dead = outbox.state.flush_lock(CHANNELS[0], 120.0)
    assert await dead.acquire()  # a process took the lane, then died holding it
    await outbox.state.enqueue([(CHANNELS[0], send) for send in replies(CHANNELS[0], ["hi"])])

    time = VirtualTime(jumping=False)
    restarted = outbox.process(time)
    assert not await restarted.flush()  # its start-up flush finds the lane taken...
    await time.sleeping(1)  # ...and looks again later
    assert outbox.said(CHANNELS[0]) == []

    await outbox.state.redis.delete(outbox.state.lane_key(CHANNELS[0]) + ":lock")  # expired
    time.advance(3600.0)
    await restarted.retried()
    assert outbox.said(CHANNELS[0]) == ["hi"]
    assert await outbox.state.pending() == 0
