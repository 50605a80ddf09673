"""The audit trail's chain rules: every case event, appended to a chained Redis stream.

Each record carries a MAC: HMAC-SHA256, under the installation's audit key, of the MAC
before it and of the record. Deleting, reordering or editing any record breaks the chain at
that point, and without the key nobody can compute a chain that fits: rewriting the whole
stream with recomputed hashes shows at its first record. Records written before the desk had
a key chain with plain SHA-256 (scheme `sha256`); they still verify, as "unkeyed".

`bot.audit_verify` checks a chain against its recorded head and the signed checkpoints;
`read_export` reads an exported JSONL file back."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
KEYED = "hmac-sha256"
UNKEYED = "sha256"  # the chain before the audit key: anyone could recompute it
SCHEMES = (KEYED, UNKEYED)
MIN_KEY_BYTES = 16


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev: str, record: dict[str, Any]) -> str:
    """The unkeyed link (scheme `sha256`) of records written before the audit key."""
    return hashlib.sha256(_message(prev, record)).hexdigest()


def _message(prev: str, record: dict[str, Any]) -> bytes:
    return f"{prev}\n{canonical(record)}".encode()


class AuditKey:
    """The secret the chain and its checkpoints are keyed with. It prints as its source,
    never as itself, and is never written to Redis or to a log."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"an audit key needs at least {MIN_KEY_BYTES} bytes ({source})")
        self._secret = secret
        self.source = source

    @classmethod
    def ephemeral(cls) -> AuditKey:
        """A key that lives as long as the object: for a throwaway desk (tests, benchmarks,
        scenario runs), whose chain nobody verifies after it is gone."""
        return cls(secrets.token_bytes(32), "a throwaway key of this desk's own")

    def __repr__(self) -> str:
        return f"AuditKey(source={self.source!r})"

    def sign(self, message: bytes) -> str:
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def link(self, prev: str, record: dict[str, Any]) -> str:
        """The MAC of `record` following the link `prev` (scheme `hmac-sha256`)."""
        return self.sign(_message(prev, record))

    def signs(self, message: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.sign(message), mac)


def link_of(key: AuditKey, scheme: str, prev: str, record: dict[str, Any]) -> str:
    """What the link of `record` must be under its scheme."""
    return key.link(prev, record) if scheme == KEYED else chain_hash(prev, record)


@dataclass(frozen=True)
class AuditRecord:
    """One link of the chain: the record, the link it follows, its own link and the scheme
    that computed it."""

    id: str
    index: int
    prev: str
    hash: str
    record: dict[str, Any]
    scheme: str = KEYED

    def to_json(self) -> str:
        return canonical(
            {
                "id": self.id,
                "index": self.index,
                "prev": self.prev,
                "hash": self.hash,
                "scheme": self.scheme,
                "record": self.record,
            }
        )


@dataclass(frozen=True)
class Head:
    """Where the chain ends as the desk recorded it: the newest record's index and link."""

    index: int
    hash: str

    @property
    def count(self) -> int:
        return self.index + 1

    def signed(self, chain: str, key: AuditKey) -> str:
        """An export's last line: the head of `chain`, signed, so a cut export shows."""
        fields = {"chain": chain, "head": {"index": self.index, "hash": self.hash},
                  "count": self.count}  # fmt: skip
        return canonical({**fields, "mac": key.sign(canonical(fields).encode())})


@dataclass
class Export:
    """An exported file read back: its records and the signed head it ends with (None when
    the file has none: an export from before heads were written, or a cut one)."""

    records: list[AuditRecord] = field(default_factory=list)
    head: Head | None = None
    head_signed: bool = True
    chain: str = ""  # the chain's stream key, as the head line names it


def read_export(path: Path, key: AuditKey) -> Export:
    """Records of an exported JSONL file, for verifying an export away from Redis."""
    export = Export()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if "head" in row:
                    fields = {"chain": row["chain"], "head": row["head"], "count": row["count"]}
                    head = row["head"]
                    export.head = Head(int(head["index"]), str(head["hash"]))
                    export.chain = str(row["chain"])
                    export.head_signed = key.signs(canonical(fields).encode(), str(row["mac"]))
                    continue
                export.records.append(
                    AuditRecord(
                        str(row["id"]),
                        int(row["index"]),
                        str(row["prev"]),
                        str(row["hash"]),
                        dict(row["record"]),
                        str(row.get("scheme", UNKEYED)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an audit record ({exc})") from None
    return export


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
