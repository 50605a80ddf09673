"""The inbox: inbound turns kept in Redis Streams until a worker has handled them.

An adapter appends what it verified (`append`) before it tells the platform the event was
received. Entries are spread over `shards` streams by conversation, so one conversation's
turns stay in one stream, in order. A worker leases a shard (`lease`), reads it through the
stream's consumer group, and acknowledges an entry only once its work is done (`done`); what
a worker that died had read stays pending and the shard's next holder takes it over
(`reclaim`, XAUTOCLAIM). Each entry counts its deliveries (`attempt`); one that keeps failing
goes to the dead-letter stream (`bury`)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bot.store import Store

GROUP = "desk"
KEEP = 100_000  # entries kept per shard stream (approximately), handled ones included

# Extend a lease we hold, or take one nobody holds; 1 when the shard is ours afterwards.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Entry:
    """One inbound turn as the inbox keeps it: which adapter took it (`source`), the
    conversation it belongs to, and the adapter's own payload."""

    shard: int
    id: str  # the stream's entry id (unique within its shard's stream only)
    source: str
    conversation: str
    payload: dict[str, Any]

    @property
    def delivery(self) -> str:
        """The entry's name across the whole inbox."""
        return f"{self.shard}/{self.id}"


class InboxUnavailable(Exception):
    """The inbox could not keep a turn (Redis is unreachable): the adapter must not tell the
    platform it was received."""


class TurnInbox:
    def __init__(self, store: Store, *, shards: int = 16) -> None:
        if shards < 1:
            raise ValueError("the inbox needs at least one shard")
        self._store = store
        self.shards = shards

    # --- appending ------------------------------------------------------------------------
    def shard_of(self, conversation: str) -> int:
        return zlib.crc32(conversation.encode()) % self.shards

    async def append(self, source: str, conversation: str, payload: dict[str, Any]) -> str:
        """Keep one turn; raises `InboxUnavailable` when it could not be kept."""
        fields = {"source": source, "conversation": conversation, "payload": json.dumps(payload)}
        try:
            entry_id = await self._store.redis.xadd(
                self._stream(self.shard_of(conversation)),
                fields,  # type: ignore[arg-type]  # redis-py's field types are too narrow
                maxlen=KEEP,
                approximate=True,
            )
        except Exception as exc:  # a connection error, a timeout, a full or read-only Redis
            raise InboxUnavailable(str(exc)) from exc
        return str(entry_id)

    # --- reading, as the holder of a shard ------------------------------------------------
    async def prepare(self) -> None:
        """Create every shard's stream and consumer group (once; idempotent)."""
        for shard in range(self.shards):
            try:
                await self._store.redis.xgroup_create(
                    self._stream(shard), GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read_many(
        self, shards: list[int], consumer: str, *, count: int, block_ms: int
    ) -> list[Entry]:
        """New entries of the shards (up to `count` each), now pending for `consumer`;
        waits up to `block_ms` when there are none."""
        return await self._read({self._stream(s): ">" for s in shards}, consumer,
                                count=count, block_ms=block_ms)  # fmt: skip

    async def pending(self, shard: int, consumer: str, *, count: int) -> list[Entry]:
        """Entries of the shard `consumer` read and has not acknowledged, oldest first."""
        return await self._read({self._stream(shard): "0"}, consumer, count=count, block_ms=None)

    async def reclaim(self, shard: int, consumer: str, *, count: int = 100) -> int:
        """Take over every entry of the shard other consumers read and never acknowledged
        (their worker died or lost the shard); returns how many."""
        start, taken = "0-0", 0
        while True:
            # (not JUSTID: redis-py would drop the cursor from that answer)
            answer: Any = await self._store.redis.xautoclaim(
                self._stream(shard), GROUP, consumer, min_idle_time=0, start_id=start,
                count=count,
            )  # fmt: skip
            start, claimed = answer[0], answer[1]
            taken += len(claimed)
            if start in ("0-0", b"0-0"):
                return taken

    async def attempt(self, entry: Entry) -> int:
        """Count one more delivery of `entry`; returns how many there have been."""
        key = self._store.key("inbox", "attempts")
        return int(await self._store.redis.hincrby(key, entry.delivery, 1))

    async def done(self, entry: Entry) -> None:
        """The entry's work is done: acknowledge it and forget its deliveries."""
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream(entry.shard), GROUP, entry.id)
            pipe.hdel(self._store.key("inbox", "attempts"), entry.delivery)
            await pipe.execute()

    async def bury(self, entry: Entry, error: str) -> None:
        """Move an entry that keeps failing to the dead-letter stream."""
        dead = {"shard": str(entry.shard), "id": entry.id, "source": entry.source,
                "conversation": entry.conversation, "payload": json.dumps(entry.payload),
                "error": error[:500]}  # fmt: skip
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._store.key("inbox", "dead"), dead, maxlen=KEEP, approximate=True)  # type: ignore[arg-type]
            pipe.xack(self._stream(entry.shard), GROUP, entry.id)
            pipe.hdel(self._store.key("inbox", "attempts"), entry.delivery)
            await pipe.execute()

    async def buried(self) -> list[dict[str, str]]:
        """The dead-letter stream, oldest first."""
        rows: Any = await self._store.redis.xrange(self._store.key("inbox", "dead"))
        return [dict(fields) for _, fields in rows]

    async def backlog(self) -> int:
        """Entries appended and not yet acknowledged, over every shard."""
        total = 0
        for shard in range(self.shards):
            stream = self._stream(shard)
            try:
                groups = await self._store.redis.xinfo_groups(stream)
            except ResponseError:
                continue  # no stream yet
            for group in groups:
                if group.get("name") == GROUP:
                    total += int(group.get("pending") or 0) + int(group.get("lag") or 0)
        return total

    # --- leases on shards ------------------------------------------------------------------
    async def lease(self, shard: int, holder: str, ttl_ms: int) -> bool:
        """Take or extend `holder`'s lease on a shard; False while another worker holds it."""
        key = self._store.key("inbox", "lease", str(shard))
        return bool(await self._store.redis.eval(_LEASE, 1, key, holder, str(ttl_ms)))

    async def release(self, shard: int, holder: str) -> None:
        key = self._store.key("inbox", "lease", str(shard))
        await self._store.redis.eval(_RELEASE, 1, key, holder)

    async def beat(self, worker: str, ttl_ms: int) -> int:
        """Say `worker` is alive; returns how many workers are."""
        key = self._store.key("inbox", "workers")
        now = await self._now_ms()
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {worker: now + ttl_ms})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            answers = await pipe.execute()
        return int(answers[-1])

    async def leave(self, worker: str) -> None:
        await self._store.redis.zrem(self._store.key("inbox", "workers"), worker)

    # --- internals -------------------------------------------------------------------------
    def _stream(self, shard: int) -> str:
        return self._store.key("inbox", "shard", str(shard))

    async def _now_ms(self) -> int:
        seconds, micros = await self._store.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def _read(
        self, streams: dict[str, str], consumer: str, *, count: int, block_ms: int | None
    ) -> list[Entry]:
        redis = self._store.redis
        answer: Any = await redis.xreadgroup(
            GROUP,
            consumer,
            streams,  # type: ignore[arg-type]  # redis-py's stream key types are too narrow
            count=count,
            block=block_ms,
        )
        entries = []
        for stream, rows in answer or []:
            shard = int(str(stream).rsplit(":", 1)[-1])
            for entry_id, fields in rows:
                if not fields:  # pending, but trimmed from the stream meanwhile
                    await redis.xack(str(stream), GROUP, entry_id)
                    continue
                entries.append(
                    Entry(
                        shard=shard,
                        id=str(entry_id),
                        source=str(fields["source"]),
                        conversation=str(fields["conversation"]),
                        payload=json.loads(fields["payload"]),
                    )
                )
        return entries
