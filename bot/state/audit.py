"""The audit trail in Redis: every case event, appended to a hash-chained stream (the chain's
rules are in `bot.audit`).

Appends are totally ordered by the head key ("index hash" of the newest record). Inside one
process they queue on a lock, so they never compete with each other; across processes one
Lua script appends only if the head is still the one the hash was computed from, in a single
round trip. When another process got in first, the script answers with the new head and the
append is hashed again on top of it, after a short jittered pause: each append by another
process can cost at most one such retry here, so there is no storm of retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, TextIO

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.audit import GENESIS, AuditRecord, Verdict, canonical, chain_hash, text, verify_records
from bot.store import Store

# KEYS: head, stream. ARGV: the head the record was hashed on ("" for an empty chain), the
# new head, then the record's fields. Answers {1, stream id} or {0, the head as it is}.
_APPEND = """
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return {0, head} end
local id = redis.call('XADD', KEYS[2], '*',
    'index', ARGV[3], 'prev', ARGV[4], 'hash', ARGV[5], 'record', ARGV[6])
redis.call('SET', KEYS[1], ARGV[2])
return {1, id}
"""
MAX_ATTEMPTS = 100  # consecutive lost races before an append gives up (the turn is retried)


class HeadMoved(Exception):
    """Another process appended since this one last saw the head."""


class AuditLog:
    """The hash-chained audit stream of one namespace. `conflicts` counts the appends that
    had to be hashed again because another process appended first."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stream = store.key("audit")
        self._head_key = store.key("audit", "head")
        self._script = store.redis.register_script(_APPEND)
        self._lock = asyncio.Lock()
        self._head: str | None = None  # the head as last seen, None until read
        self.conflicts = 0

    async def append(self, record: dict[str, Any]) -> AuditRecord:
        payload = json.loads(canonical(record))  # what is hashed is exactly what is read back
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(HeadMoved),
            wait=wait_random_exponential(multiplier=0.001, max=0.05),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            reraise=True,
        )
        async with self._lock:
            try:
                return await retrying(self._try_append, payload)
            except BaseException:
                self._head = None  # the script may have run: read the head again next time
                raise

    async def _try_append(self, payload: dict[str, Any]) -> AuditRecord:
        if self._head is None:
            self._head = text(await self._store.redis.get(self._head_key) or "")
        index, prev = _split_head(self._head)
        digest = chain_hash(prev, payload)
        new_head = f"{index + 1} {digest}"
        fields = (str(index + 1), prev, digest, canonical(payload))
        ok, value = await self._script(keys=[self._head_key, self._stream],
                                       args=[self._head, new_head, *fields])  # fmt: skip
        if not int(ok):
            self._head = text(value)
            self.conflicts += 1
            raise HeadMoved
        self._head = new_head
        return AuditRecord(text(value), index + 1, prev, digest, payload)

    async def records(self, batch: int = 500) -> AsyncIterator[AuditRecord]:
        start = "-"
        while True:
            rows = await self._store.redis.xrange(self._stream, min=start, count=batch)
            if not rows:
                return
            for stream_id, fields in rows:
                yield _from_fields(text(stream_id), dict(fields or {}))
            start = "(" + text(rows[-1][0])

    async def verify(self) -> Verdict:
        return verify_records([rec async for rec in self.records()])

    async def export(self, out: TextIO) -> int:
        count = 0
        async for rec in self.records():
            out.write(rec.to_json() + "\n")
            count += 1
        return count

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        return [rec.record async for rec in self.records() if rec.record.get("case") == case_id]


def _split_head(head: str) -> tuple[int, str]:
    """(index, hash) of the newest record; (-1, GENESIS) for an empty chain."""
    if not head:
        return -1, GENESIS
    index, digest = head.split(" ", 1)
    return int(index), digest


def _from_fields(stream_id: str, fields: dict[Any, Any]) -> AuditRecord:
    f = {text(k): text(v) for k, v in fields.items()}
    return AuditRecord(stream_id, int(f["index"]), f["prev"], f["hash"], json.loads(f["record"]))
