"""A worker process for tests/test_pipeline.py to kill: the desk of `pipeline_desk` on the
test's Redis and fake Slack, taking turns from the inbox. A message containing HOLD is
taken, marked as started in Redis, and never finished, so the test can kill the process in
the middle of a turn.

    python tests/pipeline_child.py <redis-url> <namespace> <slack-api-url> <bot-token>
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_desk import FAST, slack_desk
from redis.asyncio import Redis

from adapters.chat.slack import SlackAdapter
from bot.observability import Metrics
from bot.pipeline import TurnWorker
from bot.store import Store

STARTED = "child:started"


class Holding:
    """The adapter, except that a message with HOLD in it never finishes."""

    def __init__(self, adapter: SlackAdapter, redis: Redis) -> None:
        self.adapter, self.redis = adapter, redis

    async def process(self, payload: dict[str, Any], delivery: str | None) -> None:
        if "HOLD" in str(payload.get("text", "")):
            await self.redis.rpush(STARTED, str(delivery))
            await asyncio.Event().wait()  # killed in here
        await self.adapter.process(payload, delivery)

    async def give_up(self, payload: dict[str, Any]) -> None:
        await self.adapter.give_up(payload)


async def main(redis_url: str, namespace: str, api_url: str, token: str) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = Store(redis, namespace)
    _, adapter, inbox = await slack_desk(store, api_url, token, reset=False)
    worker = TurnWorker(inbox, {"slack": Holding(adapter, redis)}, metrics=Metrics(),
                        config=FAST, name="child")  # fmt: skip
    await worker.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
