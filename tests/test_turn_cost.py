"""What one turn costs in Redis round trips: a request for help, the check answered, a
runbook answer and an install each stay within a bound, so waste that creeps back in (the
same record read again, one round trip per item of a loop) fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from harness import Conversation, conversation
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from bot.models import Turn
from bot.store import Store


class CountingConnection(Connection):
    """Counts the requests written (one per command, one per pipeline or script)."""

    writes: ClassVar[int] = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted(redis: Redis, redis_url: str) -> AsyncIterator[Conversation]:
    client = Redis.from_url(redis_url, decode_responses=True, connection_class=CountingConnection)
    try:
        desk = await conversation(Store(client, "test"))
        await desk.desk.warm_up()
        yield desk
    finally:
        await client.aclose()


async def round_trips(desk: Conversation, turn: Turn) -> int:
    before = CountingConnection.writes
    desk.chat.record(await desk.desk.handle(turn))
    return CountingConnection.writes - before


# Measured on Initech: 42, 51, 15 and 45 (before the turn's reads were remembered, buttons
# minted at once and switches read together: 56, 67, 24 and 71; before each acting case was
# listed for recovery, its recovery sweep ensured and each step's intent written first: 42,
# 43, 15 and 41). A few to spare: the first script call of a server loads the script.
BOUNDS = {"locked out": 46, "code typed": 54, "runbook": 17, "install": 48}


async def test_a_turn_costs_a_bounded_number_of_round_trips(counted: Conversation) -> None:
    desk = counted
    costs = {"locked out": await round_trips(desk, desk.turn("peter", text="I'm locked out"))}
    challenge = await desk.desk.stepup.pending("peter")
    assert challenge is not None
    assert challenge.check_id is not None
    item = await desk.world.checks.delivered(challenge.check_id)
    assert item is not None
    costs["code typed"] = await round_trips(desk, desk.turn("peter", text=item.secret or ""))
    costs["runbook"] = await round_trips(desk, desk.turn("samir", text="how do I set up the VPN"))
    costs["install"] = await round_trips(desk, desk.turn("peter", text="install postman"))

    person = await desk.world.directory.person("peter")
    assert person is not None
    assert not person.locked  # the turns did what they are for
    assert [skill for skill, _ in await desk.executed()] == ["unlock_account", "install_software"]
    over = {turn: cost for turn, cost in costs.items() if cost > BOUNDS[turn]}
    assert not over, f"round trips over the bound: {over} (bounds {BOUNDS})"
