"""Signed checkpoints of the audit chain, kept away from Redis: one JSON line per checkpoint
(which chain, its head index and link, its record count, the time, and an HMAC of them under
the audit key) in an append-only file. Whoever can rewrite Redis cannot unsay a checkpoint:
a chain cut back and grown again, or rewritten before a checkpoint, no longer has the link
the checkpoint signed.

Lines are appended with O_APPEND and fsynced before the write is counted done; the file is
never rewritten. Put it on another disk or ship it elsewhere (see README, "Audit trail")."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.audit import AuditKey, Head, canonical
from bot.clock import Clock


@dataclass(frozen=True)
class Checkpoint:
    """A chain's head at a moment, signed with the audit key. `chain` names the chain (its
    stream key), so desks of several namespaces can share one file."""

    chain: str
    index: int
    hash: str
    count: int
    at: str
    mac: str

    @staticmethod
    def _fields(chain: str, index: int, digest: str, count: int, at: str) -> dict[str, object]:
        return {"chain": chain, "index": index, "hash": digest, "count": count, "at": at}

    @classmethod
    def sign(cls, chain: str, head: Head, at: str, key: AuditKey) -> Checkpoint:
        fields = cls._fields(chain, head.index, head.hash, head.count, at)
        mac = key.sign(canonical(fields).encode())
        return cls(chain, head.index, head.hash, head.count, at, mac)

    def signed_by(self, key: AuditKey) -> bool:
        fields = self._fields(self.chain, self.index, self.hash, self.count, self.at)
        return self.count == self.index + 1 and key.signs(canonical(fields).encode(), self.mac)

    def line(self) -> str:
        fields = self._fields(self.chain, self.index, self.hash, self.count, self.at)
        return canonical({**fields, "mac": self.mac}) + "\n"


@dataclass(frozen=True)
class CheckpointLine:
    """One line of the file as read: the checkpoint on it, or why it is not one."""

    number: int
    checkpoint: Checkpoint | None
    problem: str = ""


class CheckpointFile:
    """The append-only file of signed checkpoints."""

    def __init__(self, path: Path, key: AuditKey, clock: Clock) -> None:
        self.path = path
        self._key = key
        self._clock = clock

    async def write(self, chain: str, head: Head) -> Checkpoint:
        """Sign the head of `chain` now and append it; returns once the line is on disk."""
        checkpoint = Checkpoint.sign(chain, head, self._clock.now().isoformat(), self._key)
        await asyncio.to_thread(self._append, checkpoint.line().encode())
        return checkpoint

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a power loss too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def read(self, chain: str) -> list[CheckpointLine]:
        """The lines of the file about `chain`, and those that are no checkpoint at all
        (none when the file does not exist yet)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return []
        except OSError as exc:  # line 0: the file as a whole
            return [CheckpointLine(0, None, f"cannot be read ({exc.strerror})")]
        parsed = [_parse(number, line) for number, line in enumerate(lines, start=1)]
        return [p for p in parsed if p.checkpoint is None or p.checkpoint.chain == chain]


def _parse(number: int, line: str) -> CheckpointLine:
    if not line.endswith("\n"):
        return CheckpointLine(number, None, "is cut short (a write interrupted by a crash?)")
    try:
        row = json.loads(line)
        checkpoint = Checkpoint(
            str(row["chain"]), int(row["index"]), str(row["hash"]), int(row["count"]),
            str(row["at"]), str(row["mac"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return CheckpointLine(number, None, "is not a checkpoint")
    return CheckpointLine(number, checkpoint)
