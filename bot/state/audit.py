"""The audit trail in Redis: every case event, appended to a hash-chained stream (the chain's
rules are in `bot.audit`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TextIO

from redis.exceptions import WatchError

from bot.audit import GENESIS, AuditRecord, Verdict, canonical, chain_hash, text, verify_records
from bot.store import Store


class AuditLog:
    """The hash-chained audit stream of one namespace."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stream = store.key("audit")
        self._head = store.key("audit", "head")  # "index hash" of the newest record

    async def append(self, record: dict[str, Any]) -> AuditRecord:
        """Append under optimistic locking so several desk processes keep one chain."""
        redis = self._store.redis
        payload = json.loads(canonical(record))  # what is hashed is exactly what is read back
        while True:
            async with redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(self._head)
                    head = await pipe.get(self._head)
                    index, prev = (-1, GENESIS) if head is None else _split_head(head)
                    digest = chain_hash(prev, payload)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.xadd(
                        self._stream,
                        {
                            "index": str(index + 1),
                            "prev": prev,
                            "hash": digest,
                            "record": canonical(payload),
                        },
                    )
                    pipe.set(self._head, f"{index + 1} {digest}")
                    result = await pipe.execute()
                except WatchError:
                    continue
            return AuditRecord(text(result[0]), index + 1, prev, digest, payload)

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


def _split_head(head: Any) -> tuple[int, str]:
    index, digest = text(head).split(" ", 1)
    return int(index), digest


def _from_fields(stream_id: str, fields: dict[Any, Any]) -> AuditRecord:
    f = {text(k): text(v) for k, v in fields.items()}
    return AuditRecord(stream_id, int(f["index"]), f["prev"], f["hash"], json.loads(f["record"]))
