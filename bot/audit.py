"""The audit trail: every case event, appended to a hash-chained Redis stream.

Each record carries the SHA-256 of the record before it, so deleting, reordering or editing
any record breaks the chain at that point. `itdesk audit verify` recomputes the chain (from
Redis or from an exported JSONL file) and names the first record that does not fit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\n{canonical(record)}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """One link of the chain: the record, the hash it follows and its own hash."""

    id: str
    index: int
    prev: str
    hash: str
    record: dict[str, Any]

    def to_json(self) -> str:
        return canonical(
            {
                "id": self.id,
                "index": self.index,
                "prev": self.prev,
                "hash": self.hash,
                "record": self.record,
            }
        )


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    broken_at: AuditRecord | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} records"
        assert self.broken_at is not None
        return (
            f"audit chain broken at record {self.broken_at.index} (id {self.broken_at.id}): "
            f"{self.reason}"
        )


def verify_records(records: Iterable[AuditRecord]) -> Verdict:
    """Recompute the chain over records in order and stop at the first that does not fit."""
    prev = GENESIS
    checked = 0
    for expected_index, rec in enumerate(records):
        if rec.index != expected_index:
            return Verdict(
                False,
                checked,
                rec,
                f"expected record {expected_index} here (a record is missing or out of order)",
            )
        if rec.prev != prev:
            return Verdict(
                False,
                checked,
                rec,
                "does not follow the record before it (a record before it was removed or changed)",
            )
        if chain_hash(prev, rec.record) != rec.hash:
            return Verdict(
                False, checked, rec, "its content does not match its hash (the record was changed)"
            )
        prev = rec.hash
        checked += 1
    return Verdict(True, checked)


def read_export(path: Path) -> Iterator[AuditRecord]:
    """Records of an exported JSONL file, for verifying an export away from Redis."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield AuditRecord(
                    str(row["id"]),
                    int(row["index"]),
                    str(row["prev"]),
                    str(row["hash"]),
                    dict(row["record"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an audit record ({exc})") from None


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
