"""The audit trail in Redis: every case event, appended to a chained stream keyed with the
installation's audit key (the chain's rules are in `bot.audit`, verifying it in
`bot.audit_verify`).

Appends are totally ordered by the head key ("index link" of the newest record). Inside one
process they queue on a lock, so they never compete with each other; across processes one
Lua script appends only if the head is still the one the link was computed from, in a
single round trip. When another process got in first, the script answers with the new head
and the append is linked again on top of it, after a short jittered pause: each append by
another process can cost at most one such retry here, so there is no storm of retries.

The script refuses to start a new chain over a stream that has records but no head (the
head was deleted): the desk does not write on top of a chain it cannot continue. Every
`checkpoint_every` appends, and on the first append of the process, the new head is signed
into the checkpoint file; that costs a file append, not a Redis round trip."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, TextIO

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.audit import GENESIS, KEYED, UNKEYED, AuditKey, AuditRecord, Head, canonical, text
from bot.audit_checkpoints import Checkpoint, CheckpointFile
from bot.audit_verify import HeadSeen, Verdict, verify_chain
from bot.store import Store

log = structlog.get_logger("itdesk.audit")

# KEYS: head, stream. ARGV: the head the record was linked on ("" for an empty chain), the
# new head, then the record's fields. Answers {1, stream id}, {0, the head as it is}, or
# {-1, ""} when the head is gone but the stream is not.
_APPEND = """
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return {0, head} end
if head == '' and redis.call('XLEN', KEYS[2]) > 0 then return {-1, ''} end
local id = redis.call('XADD', KEYS[2], '*', 'index', ARGV[3], 'prev', ARGV[4],
    'hash', ARGV[5], 'scheme', ARGV[6], 'record', ARGV[7])
redis.call('SET', KEYS[1], ARGV[2])
return {1, id}
"""
MAX_ATTEMPTS = 100  # consecutive lost races before an append gives up (the turn is retried)
CHECKPOINT_EVERY = 100


class HeadMoved(Exception):
    """Another process appended since this one last saw the head."""


class HeadMissing(Exception):
    """The audit stream has records but its head key is gone: an operator must look
    (`itdesk audit verify`) before the desk writes to it again."""


class AuditLog:
    """The keyed audit stream of one namespace. `conflicts` counts the appends that had to
    be linked again because another process appended first."""

    def __init__(
        self,
        store: Store,
        key: AuditKey,
        *,
        checkpoints: CheckpointFile | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self._store = store
        self._key = key
        self._checkpoints = checkpoints
        self._every = checkpoint_every
        self._signed = False  # whether this process has signed a checkpoint yet
        self._stream = store.key("audit")
        self.head_key = store.key("audit", "head")
        self._script = store.redis.register_script(_APPEND)
        self._lock = asyncio.Lock()
        self._head: str | None = None  # the head as last seen, None until read
        self.conflicts = 0

    async def append(self, record: dict[str, Any]) -> AuditRecord:
        payload = json.loads(canonical(record))  # what is linked is exactly what is read back
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(HeadMoved),
            wait=wait_random_exponential(multiplier=0.001, max=0.05),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            reraise=True,
        )
        async with self._lock:
            try:
                appended: AuditRecord = await retrying(self._try_append, payload)
            except BaseException:
                self._head = None  # the script may have run: read the head again next time
                raise
        if self._checkpoints is not None and (
            not self._signed or appended.index % self._every == self._every - 1
        ):
            await self._sign(Head(appended.index, appended.hash))
        return appended

    async def _try_append(self, payload: dict[str, Any]) -> AuditRecord:
        if self._head is None:
            self._head = text(await self._store.redis.get(self.head_key) or "")
        index, prev = _split_head(self._head)
        digest = self._key.link(prev, payload)
        new_head = f"{index + 1} {digest}"
        fields = (str(index + 1), prev, digest, KEYED, canonical(payload))
        ok, value = await self._script(keys=[self.head_key, self._stream],
                                       args=[self._head, new_head, *fields])  # fmt: skip
        if int(ok) < 0:
            raise HeadMissing(f"{self.head_key} is missing while {self._stream} holds records")
        if not int(ok):
            self._head = text(value)
            self.conflicts += 1
            raise HeadMoved
        self._head = new_head
        return AuditRecord(text(value), index + 1, prev, digest, payload, KEYED)

    async def _sign(self, head: Head) -> None:
        assert self._checkpoints is not None
        self._signed = True  # a file that cannot be written is tried again K appends on
        try:
            await self._checkpoints.write(self._stream, head)
        except OSError as exc:  # the record is in Redis; verify says the checkpoints lag
            log.error("audit.checkpoint_failed", file=str(self._checkpoints.path), error=str(exc))

    async def head(self) -> Head | None:
        """The head as recorded in Redis (None when there is none)."""
        raw = text(await self._store.redis.get(self.head_key) or "")
        return Head(*_split_head(raw)) if raw else None

    async def records(self, batch: int = 500) -> AsyncIterator[AuditRecord]:
        start = "-"
        while True:
            rows = await self._store.redis.xrange(self._stream, min=start, count=batch)
            if not rows:
                return
            for stream_id, fields in rows:
                yield _from_fields(text(stream_id), dict(fields or {}))
            start = "(" + text(rows[-1][0])

    async def _chain(self) -> tuple[Head | None, list[AuditRecord]]:
        """The head and the records up to it. The head is read before and after the
        records: records past the first head are an append made meanwhile only if the head
        moved, else they are records the head does not know of."""
        before = await self.head()
        records = [rec async for rec in self.records()]
        if before is not None and await self.head() != before:
            records = [rec for rec in records if rec.index <= before.index]
        return before, records

    async def verify(self) -> Verdict:
        """The chain checked under the key, against its head and every checkpoint."""
        verdict, _ = await self.checked()
        return verdict

    async def checked(self) -> tuple[Verdict, list[AuditRecord]]:
        """The verdict on the chain, and the records it is about."""
        head, records = await self._chain()
        checkpoints = self._checkpoints.read(self._stream) if self._checkpoints else None
        seen = HeadSeen(head, f"the head ({self.head_key})")
        return verify_chain(records, self._key, head=seen, checkpoints=checkpoints), records

    async def checkpoint(self) -> tuple[Verdict, Checkpoint | None]:
        """Sign the head now, if the chain up to it verifies (a broken chain is not signed)."""
        if self._checkpoints is None:
            raise ValueError("no checkpoint file configured")
        verdict = await self.verify()
        head = await self.head()
        if not verdict.ok or head is None:
            return verdict, None
        return verdict, await self._checkpoints.write(self._stream, head)

    async def export(self, out: TextIO) -> int:
        """Write the records up to the head as JSON lines, then the head, signed."""
        head, records = await self._chain()
        for rec in records:
            out.write(rec.to_json() + "\n")
        if head is not None:
            out.write(head.signed(self._stream, self._key) + "\n")
        return len(records)

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        return [rec.record async for rec in self.records() if rec.record.get("case") == case_id]


def _split_head(head: str) -> tuple[int, str]:
    """(index, link) of the newest record; (-1, GENESIS) for an empty chain."""
    if not head:
        return -1, GENESIS
    index, digest = head.split(" ", 1)
    return int(index), digest


def _from_fields(stream_id: str, fields: dict[Any, Any]) -> AuditRecord:
    f = {text(k): text(v) for k, v in fields.items()}
    return AuditRecord(
        stream_id,
        int(f["index"]),
        f["prev"],
        f["hash"],
        json.loads(f["record"]),
        f.get("scheme", UNKEYED),
    )
