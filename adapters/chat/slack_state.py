"""What the Slack adapter remembers, in Redis under its own namespace, so that any desk
process can finish what another started:

- where each desk message was posted (channel and ts), for `chat.update` after a decision and
  so that a message delivered twice is posted once;
- the thread of each case in the on-call channel (its root message), both ways: replies to a
  case go into its thread, and a technician's reply in a thread comes back as that case;
- people's Slack user ids and their DM channels with the desk;
- the options of a choice offered as a modal;
- the outbox: effects not yet posted, in order per lane, so nothing is lost when Slack is
  slow, down or asks the desk to wait.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from redis.asyncio.lock import Lock

from bot.models import Effect
from bot.store import Store

MESSAGE_TTL = timedelta(days=120)  # approval cards and escalation threads live this long
USER_TTL = timedelta(days=1)
CHOICE_TTL = timedelta(days=7)
DEAD_LETTERS = 1000

EFFECT: TypeAdapter[Effect] = TypeAdapter(Effect)

# Remove an effect from its lane (KEYS[1]) and, once the lane is empty, the lane from the set
# of lanes with something queued (KEYS[2]), in one step: an effect queued meanwhile keeps it.
_REMOVE = """
redis.call('LREM', KEYS[1], 1, ARGV[1])
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
"""


@dataclass(frozen=True)
class Posted:
    """A message in Slack: its channel and timestamp (Slack's id for a message)."""

    channel: str
    ts: str


@dataclass(frozen=True)
class Option:
    """One option of a choice offered in a modal: what the desk's button would have said."""

    label: str
    action: str
    ref: str


class SlackState:
    """The Slack adapter's records in Redis."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        self._remove = self.redis.register_script(_REMOVE)

    # --- messages ---------------------------------------------------------------------
    async def posted(self, message_id: str) -> Posted | None:
        """Where a desk message was posted, or None when it has not been."""
        raw = await self.redis.get(self.store.key("message", message_id))
        return None if raw is None else Posted(**json.loads(raw))

    async def remember_post(self, message_id: str, posted: Posted) -> None:
        """Record where a desk message was posted (for updates, and to never post it twice)."""
        value = json.dumps({"channel": posted.channel, "ts": posted.ts})
        await self.redis.set(self.store.key("message", message_id), value, ex=MESSAGE_TTL)

    # --- case threads -----------------------------------------------------------------
    async def thread_root(self, case_id: str) -> Posted | None:
        """The first message of a case's thread, or None before there is one."""
        raw = await self.redis.get(self.store.key("thread", case_id))
        return None if raw is None else Posted(**json.loads(raw))

    async def remember_thread(self, case_id: str, root: Posted) -> None:
        """Record a case's thread root, both ways (case -> root, root -> case)."""
        value = json.dumps({"channel": root.channel, "ts": root.ts})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.store.key("thread", case_id), value, ex=MESSAGE_TTL)
            pipe.set(self.store.key("case", root.channel, root.ts), case_id, ex=MESSAGE_TTL)
            await pipe.execute()

    async def case_of(self, channel: str, thread_ts: str) -> str | None:
        """The case whose thread has this root, or None."""
        found = await self.redis.get(self.store.key("case", channel, thread_ts))
        return None if found is None else str(found)

    # --- people -----------------------------------------------------------------------
    async def user_id(self, username: str) -> str | None:
        """A directory person's Slack user id, if looked up lately."""
        found = await self.redis.get(self.store.key("user", username))
        return None if found is None else str(found)

    async def remember_user_id(self, username: str, user_id: str) -> None:
        """Record a person's Slack user id for a day (people do change accounts)."""
        await self.redis.set(self.store.key("user", username), user_id, ex=USER_TTL)

    async def dm_channel(self, user_id: str) -> str | None:
        """The DM channel between the desk and a Slack user, if opened before."""
        found = await self.redis.get(self.store.key("dm", user_id))
        return None if found is None else str(found)

    async def remember_dm_channel(self, user_id: str, channel: str) -> None:
        """Record the DM channel with a Slack user."""
        await self.redis.set(self.store.key("dm", user_id), channel, ex=MESSAGE_TTL)

    # --- choices offered as a modal ---------------------------------------------------
    async def choices(self, message_id: str) -> tuple[str, list[Option]] | None:
        """The question and options of a choice offered as a modal, by its desk message id."""
        raw = await self.redis.get(self.store.key("choice", message_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return str(data["title"]), [Option(**o) for o in data["options"]]

    async def remember_choices(self, message_id: str, title: str, options: list[Option]) -> None:
        """Keep a choice's options for its modal (the button only carries the message id)."""
        data = {"title": title, "options": [asdict(o) for o in options]}
        await self.redis.set(self.store.key("choice", message_id), json.dumps(data), ex=CHOICE_TTL)

    # --- the outbox -------------------------------------------------------------------
    # One queue per lane (the place a message goes: a channel, or a person's DM before it is
    # known), so that a channel waiting its turn holds up no other; a set names the lanes
    # that have something queued.
    def lane_key(self, lane: str) -> str:
        """The Redis list of a lane's effects waiting to be posted, oldest first."""
        return self.store.key("outbox", "lane", lane)

    async def enqueue(self, effects: list[tuple[str, Effect]]) -> list[str]:
        """Add effects at the end of their lanes (lane, effect), all at once; the lanes."""
        lanes: list[str] = []
        async with self.redis.pipeline(transaction=True) as pipe:
            for lane, effect in effects:
                pipe.rpush(self.lane_key(lane), EFFECT.dump_json(effect).decode())
                if lane not in lanes:
                    lanes.append(lane)
            if lanes:
                pipe.sadd(self._lanes_key, *lanes)
                await pipe.execute()
        return lanes

    async def lanes(self) -> list[str]:
        """The lanes with something queued."""
        return sorted(str(lane) for lane in await self.redis.smembers(self._lanes_key))

    async def head_raw(self, lane: str) -> str | None:
        """A lane's oldest effect not yet posted, as queued (to remove it once done)."""
        raw = await self.redis.lindex(self.lane_key(lane), 0)
        return None if raw is None else str(raw)

    @staticmethod
    def parse(raw: str) -> Effect:
        """An effect as queued, read back (a `ValidationError` when it cannot be)."""
        return EFFECT.validate_json(raw)

    async def done(self, lane: str, raw: str) -> None:
        """Remove a handled effect from the head of its lane."""
        await self._remove(keys=[self.lane_key(lane), self._lanes_key], args=[raw, lane])

    async def pending(self, lane: str | None = None) -> int:
        """How many effects wait in one lane, or in the whole outbox."""
        lanes = [lane] if lane is not None else await self.lanes()
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in lanes:
                pipe.llen(self.lane_key(name))
            counts = await pipe.execute() if lanes else []
        return sum(int(c) for c in counts)

    async def dead_letter(self, lane: str, raw: str, error: str) -> None:
        """Keep an effect Slack refused for good, for an operator to look at."""
        entry = json.dumps({"effect": json.loads(raw), "error": error})
        key = self.store.key("dead")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry)
            pipe.ltrim(key, 0, DEAD_LETTERS - 1)
            await self._remove(
                keys=[self.lane_key(lane), self._lanes_key], args=[raw, lane], client=pipe
            )
            await pipe.execute()

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Effects Slack refused for good, newest first, with the error."""
        raws = await self.redis.lrange(self.store.key("dead"), 0, -1)
        return [json.loads(r) for r in raws]

    def flush_lock(self, lane: str, seconds: float) -> Lock:
        """A lock so that one desk process at a time posts from a lane (in order)."""
        return self.redis.lock(self.lane_key(lane) + ":lock", timeout=seconds, blocking=False)

    @property
    def _lanes_key(self) -> str:
        return self.store.key("outbox", "lanes")
